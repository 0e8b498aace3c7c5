"""Hydra head training from hidden-state dumps, by teacher distillation: head k at position i reads
(f_i, e(x_{i+1}) .. e(x_{i+k})) and learns the target's own greedy token after position i+k (the
teacher's choice, which on greedy self-distilled data is also the data's next token). With
`context_layers` > 0 (Hydra++), f_i is first replaced by the context layers' causal pass over the
conversation's features, trained end to end through the heads' loss; with `context_next_token` they read
each feature beside the next token's embedding (see model/hydra/net.py). `teacher` > 0 distils the target's
whole distribution, as Hydra's paper does (train/tasks/medusa.py)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.common.zoo import DEFAULT_TARGET
from model.hydra import net as hydra_net
from train.tasks.features import DataSource
from train.tasks.medusa import MedusaTask, head_logits


class HydraTask(MedusaTask):  # same data, loss and calibration; only the heads' inputs differ
    net_module = hydra_net

    def __init__(self, data: DataSource | list[DataSource], target: str = DEFAULT_TARGET, draft_vocab_size: int = 8192, num_heads: int = 4,
                 layers: int = 1, decay: float = 0.8, init_from: str | None = None, limit: int | None = None,
                 skip: int = 0, context_layers: int = 0, context_heads: int = 8, context_kv_heads: int = 8,
                 context_intermediate_size: int = 1728, context_next_token: bool = False, teacher: float = 0.0):
        super().__init__(data, target, draft_vocab_size, num_heads, layers, decay, init_from, limit, skip, teacher)
        self.shape_args.update(context_layers=context_layers, context_heads=context_heads,
                               context_kv_heads=context_kv_heads, context_intermediate_size=context_intermediate_size,
                               context_next_token=context_next_token)

    def per_head(self, model, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per head k: (logits (n_k, V'), labels (n_k,)) on the positions whose label it can name."""
        net = getattr(model, "module", model)
        heads, width = net.shape.num_heads, batch["input_ids"].shape[1]
        real = batch["attention_mask"].bool()
        ids = F.pad(batch["input_ids"], (0, heads))  # room for the prefixes of the last positions
        prefixes = torch.stack([ids[:, j + 1 : j + 1 + width] for j in range(heads)], dim=-1)  # (B, T, K): x_{i+1..i+K}
        out = model(batch["features"], batch["attention_mask"], net.embed_tokens(prefixes[real]), prefixes[..., 0])  # (N, K, H)
        return head_logits(net, out, batch["labels"], real)
