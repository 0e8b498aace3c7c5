"""Hydra head training from hidden-state dumps, by teacher distillation: head k at position i reads
(f_i, e(x_{i+1}) .. e(x_{i+k})) and learns the target's own greedy token after position i+k (the
teacher's choice, which on greedy self-distilled data is also the data's next token)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from model.hydra.net import HydraNet, new_net
from train.tasks.features import IGNORE, FeatureData
from train.tasks.medusa import shifted


class HydraTask:
    def __init__(self, data: str, target: str = "gemma-3-270m", draft_vocab_size: int = 8192, num_heads: int = 4,
                 layers: int = 1, decay: float = 0.8, limit: int | None = None):
        self.data = FeatureData(data, target, draft_vocab_size, limit=limit)
        self.shape_args = dict(num_heads=num_heads, layers=layers)
        self.decay = decay
        self.dataset, self.collate = self.data.dataset, self.data.collate

    def model(self) -> HydraNet:
        return new_net(self.data.target_model, self.data.vocab, **self.shape_args)

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        net: HydraNet = getattr(model, "module", model)
        heads = net.shape.num_heads
        real = batch["attention_mask"].bool()
        ids = F.pad(batch["input_ids"], (0, heads))  # room for the prefixes of the last positions
        prefixes = torch.stack([ids[:, j + 1 : j + 1 + batch["input_ids"].shape[1]] for j in range(heads)], dim=-1)  # (B, T, K)
        out = model(batch["features"][real], net.embed_tokens(prefixes[real]))  # (N, K, H)
        total = torch.zeros((), device=out.device)
        for k in range(1, heads + 1):
            labels = shifted(batch["labels"], k)[real]
            keep = labels != IGNORE
            if keep.any():
                total = total + self.decay ** (k - 1) * F.cross_entropy(net.logits(out[keep, k - 1]).float(), labels[keep])
        return total

    def save(self, model: HydraNet, folder: Path) -> None:
        model.save(folder)
        self.data.save_tokenizer(folder)
