"""EAGLE head training from hidden-state dumps (`data_generation.hidden_states --layers -1`).

Teacher forcing over the target's real features: net position i reads (f_i + noise, e(x_{i+1})) and
is trained to output f_{i+1} (SmoothL1) whose LM-head distribution must name the target's greedy
token after position i+1 (cross-entropy), on answer positions only:

    loss = feature_weight * SmoothL1(pred_i, f_{i+1}) + token_weight * CE(head(pred_i), argmax_{i+1})

The noise is uniform in [-noise, noise] times the batch's feature RMS (EAGLE's U(-0.1, 0.1) was
for features of RMS ~1); it teaches the net to draft from its own, imperfect, predicted features.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.eagle import net as eagle_net
from model.eagle.net import EagleNet
from train.tasks.features import IGNORE
from train.tasks.head_task import HeadTask


class EagleTask(HeadTask):
    net_module = eagle_net

    def __init__(self, data: str | list[str], target: str = "gemma-3-270m", draft_vocab_size: int = 8192, heads: int = 8,
                 kv_heads: int = 8, intermediate_size: int = 1728, layers: int = 1, feature_weight: float = 1.0,
                 token_weight: float = 0.1, noise: float = 0.1, init_from: str | None = None, limit: int | None = None,
                 skip: int = 0):
        shape = dict(heads=heads, kv_heads=kv_heads, intermediate_size=intermediate_size, layers=layers)
        super().__init__(data, target, draft_vocab_size, init_from, limit, skip, shape)
        self.weights = (feature_weight, token_weight)
        self.noise = noise

    def _predict(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(predicted features, their goals, token logits, token labels) at the answer positions."""
        net: EagleNet = getattr(model, "module", model)  # the bare net behind a DDP wrapper
        feats = batch["features"]
        inputs, goal = feats[:, :-1], feats[:, 1:]  # (B, T-1, H): f_i in, f_{i+1} out
        if model.training and self.noise:
            rms = feats[batch["attention_mask"].bool()].pow(2).mean().sqrt()
            inputs = inputs + (torch.rand_like(inputs) * 2 - 1) * self.noise * rms
        pred = model(inputs, net.embed_tokens(batch["input_ids"][:, 1:]), attention_mask=batch["attention_mask"][:, :-1])
        labels = batch["labels"][:, 1:]  # the token after position i+1
        answer = labels != IGNORE  # answer positions whose next token the head can name
        return pred[answer], goal[answer], net.logits(pred[answer]).float(), labels[answer]

    def per_head(self, model, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """[(logits, labels)] of the one head, teacher-forced on real features (for evaluation.calibrate_tree)."""
        return [self._predict(model, batch)[2:]]

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pred, goal, logits, labels = self._predict(model, batch)
        return self.weights[0] * F.smooth_l1_loss(pred, goal) + self.weights[1] * F.cross_entropy(logits, labels)
