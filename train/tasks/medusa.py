"""Medusa head training from hidden-state dumps: head k at position i learns the target's greedy token
after position i+k (i.e. x_{i+1+k}), cross-entropy on answer positions, head k weighted by decay^(k-1)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.medusa import net as medusa_net
from train.tasks.features import IGNORE
from train.tasks.head_task import HeadTask


def shifted(labels: torch.Tensor, k: int) -> torch.Tensor:
    """labels moved k positions left (B, T), IGNORE past the end: row i then holds position i+k's label."""
    out = torch.full_like(labels, IGNORE)
    out[:, : labels.shape[1] - k] = labels[:, k:]
    return out


def head_logits(net, out: torch.Tensor, labels: torch.Tensor, real: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """out (N, K, H) head features at the real positions -> per head k: (logits, labels of position i+k)."""
    pairs = []
    for k in range(1, out.shape[1] + 1):
        wanted = shifted(labels, k)[real]  # (N,)
        keep = wanted != IGNORE
        pairs.append((net.logits(out[keep, k - 1]).float(), wanted[keep]))
    return pairs


def decayed_cross_entropy(pairs: list[tuple[torch.Tensor, torch.Tensor]], decay: float) -> torch.Tensor:
    """sum_k decay^(k-1) * CE_k: later heads face harder targets and matter less (a path needs the earlier ones)."""
    total = torch.zeros((), device=pairs[0][0].device)
    for k, (logits, labels) in enumerate(pairs):
        if len(labels):
            total = total + decay ** k * F.cross_entropy(logits, labels)
    return total


class MedusaTask(HeadTask):
    net_module = medusa_net

    def __init__(self, data: str | list[str], target: str = "gemma-3-270m", draft_vocab_size: int = 8192, num_heads: int = 4,
                 layers: int = 1, decay: float = 0.8, init_from: str | None = None, limit: int | None = None,
                 skip: int = 0):
        super().__init__(data, target, draft_vocab_size, init_from, limit, skip, dict(num_heads=num_heads, layers=layers))
        self.decay = decay

    def per_head(self, model, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per head k: (logits (n_k, V'), labels (n_k,)) on the positions whose label it can name."""
        real = batch["attention_mask"].bool()
        out = model(batch["features"][real])  # (N, K, H) over real positions only
        return head_logits(getattr(model, "module", model), out, batch["labels"], real)

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return decayed_cross_entropy(self.per_head(model, batch), self.decay)
