"""Medusa head training from hidden-state dumps: head k at position i learns the target's greedy token
after position i+k (i.e. x_{i+1+k}), cross-entropy on answer positions, head k weighted by decay^(k-1).

With `teacher` > 0 the heads also learn the target's whole next-token distribution after position i+k
(Hydra's teacher distillation; Medusa-2's self-distillation), not only its argmax: the dump holds the
LM head's input at every position, so that distribution is the frozen LM head over the feature at i+k,
renormalised over the draft vocabulary. The loss per head is (1 - teacher) * CE(greedy token) +
teacher * CE(target distribution). A tree verifies several ranks per head, and the soft target teaches
the order of the runners-up, which a one-hot label leaves unconstrained.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.common.zoo import DEFAULT_TARGET
from model.medusa import net as medusa_net
from train.tasks.features import IGNORE, DataSource
from train.tasks.head_task import HeadTask


def shifted(x: torch.Tensor, k: int, fill: float = IGNORE) -> torch.Tensor:
    """x (B, T, ...) moved k positions left, `fill` past the end: row i then holds position i+k's entry."""
    out = torch.full_like(x, fill)
    out[:, : x.shape[1] - k] = x[:, k:]
    return out


def head_rows(labels: torch.Tensor, real: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Head k's targets at the real positions (N,), the labels of position i+k, and which of them it can name."""
    wanted = shifted(labels, k)[real]
    return wanted, wanted != IGNORE


def head_logits(net, out: torch.Tensor, labels: torch.Tensor, real: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """out (N, K, H) head features at the real positions -> per head k: (logits, labels of position i+k)."""
    pairs = []
    for k in range(1, out.shape[1] + 1):
        wanted, keep = head_rows(labels, real, k)
        pairs.append((net.logits(out[keep, k - 1]).float(), wanted[keep]))
    return pairs


@torch.no_grad()
def teacher_probs(net, features: torch.Tensor, labels: torch.Tensor, real: torch.Tensor, heads: int) -> list[torch.Tensor]:
    """Per head k: the target's distribution after position i+k over the draft vocabulary (n_k, V'), at the
    positions (and in the order) head_logits keeps for head k. features (B, T, H): the LM head's input."""
    probs = []
    for k in range(1, heads + 1):
        _, keep = head_rows(labels, real, k)
        ahead = shifted(features, k, fill=0.0)[real][keep]  # (n_k, H) the feature whose LM-head output is the label
        probs.append(torch.softmax(net.logits(ahead).float(), dim=-1))
    return probs


def decayed_cross_entropy(pairs: list[tuple[torch.Tensor, torch.Tensor]], decay: float,
                          soft: list[torch.Tensor] | None = None, teacher: float = 0.0) -> torch.Tensor:
    """sum_k decay^(k-1) * CE_k: later heads face harder targets and matter less (a path needs the earlier ones).
    With soft targets (given when teacher > 0), CE_k = (1 - teacher) * CE(labels) + teacher * CE(soft)."""
    total = torch.zeros((), device=pairs[0][0].device)
    for k, (logits, labels) in enumerate(pairs):
        if len(labels):
            ce = F.cross_entropy(logits, labels)
            if soft is not None:
                ce = (1 - teacher) * ce + teacher * F.cross_entropy(logits, soft[k])
            total = total + decay ** k * ce
    return total


class MedusaTask(HeadTask):
    net_module = medusa_net

    def __init__(self, data: DataSource | list[DataSource], target: str = DEFAULT_TARGET, draft_vocab_size: int = 8192, num_heads: int = 4,
                 layers: int = 1, decay: float = 0.8, init_from: str | None = None, limit: int | None = None,
                 skip: int = 0, teacher: float = 0.0):
        if not 0.0 <= teacher <= 1.0:
            raise ValueError(f"teacher weighs the target's distribution against its greedy token: 0..1, got {teacher}")
        super().__init__(data, target, draft_vocab_size, init_from, limit, skip, dict(num_heads=num_heads, layers=layers))
        self.decay, self.teacher = decay, teacher

    def per_head(self, model, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per head k: (logits (n_k, V'), labels (n_k,)) on the positions whose label it can name."""
        real = batch["attention_mask"].bool()
        out = model(batch["features"][real])  # (N, K, H) over real positions only
        return head_logits(getattr(model, "module", model), out, batch["labels"], real)

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pairs = self.per_head(model, batch)
        soft = None
        if self.teacher:
            net = getattr(model, "module", model)
            soft = teacher_probs(net, batch["features"], batch["labels"], batch["attention_mask"].bool(), len(pairs))
        return decayed_cross_entropy(pairs, self.decay, soft, self.teacher)
