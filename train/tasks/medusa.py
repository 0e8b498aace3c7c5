"""Medusa head training from hidden-state dumps: head k at position i learns the target's greedy token
after position i+k (i.e. x_{i+1+k}), cross-entropy on answer positions, head k weighted by decay^(k-1)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from model.medusa.net import MedusaNet, new_net
from train.tasks.features import IGNORE, FeatureData


def shifted(labels: torch.Tensor, k: int) -> torch.Tensor:
    """labels moved k positions left (B, T), IGNORE past the end: row i then holds position i+k's label."""
    out = torch.full_like(labels, IGNORE)
    out[:, : labels.shape[1] - k] = labels[:, k:]
    return out


class MedusaTask:
    def __init__(self, data: str, target: str = "gemma-3-270m", draft_vocab_size: int = 8192, num_heads: int = 4,
                 layers: int = 1, decay: float = 0.8, limit: int | None = None):
        self.data = FeatureData(data, target, draft_vocab_size, limit=limit)
        self.shape_args = dict(num_heads=num_heads, layers=layers)
        self.decay = decay
        self.dataset, self.collate = self.data.dataset, self.data.collate

    def model(self) -> MedusaNet:
        return new_net(self.data.target_model, self.data.vocab, **self.shape_args)

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        net: MedusaNet = getattr(model, "module", model)
        real = batch["attention_mask"].bool()
        out = model(batch["features"][real])  # (N, K, H) over real positions only
        total = torch.zeros((), device=out.device)
        for k in range(1, net.shape.num_heads + 1):
            labels = shifted(batch["labels"], k)[real]  # (N,)
            keep = labels != IGNORE
            if keep.any():
                total = total + self.decay ** (k - 1) * F.cross_entropy(net.logits(out[keep, k - 1]).float(), labels[keep])
        return total

    def save(self, model: MedusaNet, folder: Path) -> None:
        model.save(folder)
        self.data.save_tokenizer(folder)
