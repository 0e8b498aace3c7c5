"""Hydra head training from hidden-state dumps, by teacher distillation: head k at position i reads
(f_i, e(x_{i+1}) .. e(x_{i+k})) and learns the target's own greedy token after position i+k (the
teacher's choice, which on greedy self-distilled data is also the data's next token)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from model.hydra.net import HydraNet, load_net, new_net
from train.tasks.features import FeatureData
from train.tasks.medusa import decayed_cross_entropy, head_logits


class HydraTask:
    def __init__(self, data: str, target: str = "gemma-3-270m", draft_vocab_size: int = 8192, num_heads: int = 4,
                 layers: int = 1, decay: float = 0.8, init_from: str | None = None, limit: int | None = None,
                 skip: int = 0):
        self.data = FeatureData(data, target, draft_vocab_size, init_from, limit, skip)
        self.init_from = init_from
        self.shape_args = dict(num_heads=num_heads, layers=layers)
        self.decay = decay
        self.dataset, self.collate = self.data.dataset, self.data.collate

    def model(self) -> HydraNet:
        if self.init_from:
            return load_net(self.init_from, self.data.target_model).train()
        return new_net(self.data.target_model, self.data.vocab, **self.shape_args)

    def per_head(self, model, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per head k: (logits (n_k, V'), labels (n_k,)) on the positions whose label it can name."""
        net: HydraNet = getattr(model, "module", model)
        heads = net.shape.num_heads
        real = batch["attention_mask"].bool()
        ids = F.pad(batch["input_ids"], (0, heads))  # room for the prefixes of the last positions
        prefixes = torch.stack([ids[:, j + 1 : j + 1 + batch["input_ids"].shape[1]] for j in range(heads)], dim=-1)  # (B, T, K)
        out = model(batch["features"][real], net.embed_tokens(prefixes[real]))  # (N, K, H)
        return head_logits(net, out, batch["labels"], real)

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return decayed_cross_entropy(self.per_head(model, batch), self.decay)

    def save(self, model: HydraNet, folder: Path) -> None:
        model.save(folder)
        self.data.save_tokenizer(folder)
