"""EAGLE head training from hidden-state dumps (`data_generation.hidden_states --layers -1`).

Teacher forcing over the target's real features: net position i reads (f_i + noise, e(x_{i+1})) and
is trained to output f_{i+1} (SmoothL1) whose LM-head distribution must name the target's greedy
token after position i+1 (cross-entropy), on answer positions only:

    loss = feature_weight * SmoothL1(pred_i, f_{i+1}) + token_weight * CE(head(pred_i), argmax_{i+1})

The noise is uniform in [-noise, noise] times the batch's feature RMS (EAGLE's U(-0.1, 0.1) was
for features of RMS ~1); it teaches the net to draft from its own, imperfect, predicted features.

`unroll` > 1 adds EAGLE-3's training-time test: the net drafts `unroll` levels from every position,
as it does at inference, where level j >= 1 reads its own level j-1 output instead of a real feature
(see `_unrolled`). Each level's loss counts with weight unroll_decay**j. Fine-tuning a head trained
without it (`init_from`) is the cheap way in: level j costs one more pass of the net.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from model.eagle import net as eagle_net
from model.common.zoo import DEFAULT_TARGET
from model.eagle.net import EagleNet, target_layer_shape
from train.tasks.features import IGNORE, DataSource
from train.tasks.head_task import HeadTask

Level = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # predicted features, goals, logits, labels


class EagleTask(HeadTask):
    net_module = eagle_net

    def __init__(self, data: DataSource | list[DataSource], target: str = DEFAULT_TARGET, draft_vocab_size: int = 8192, heads: int = 8,
                 kv_heads: int = 8, intermediate_size: int = 1728, layers: int = 1, feature_weight: float = 1.0,
                 token_weight: float = 0.1, noise: float = 0.1, unroll: int = 1, unroll_decay: float = 0.8,
                 init_from: str | None = None, limit: int | None = None, skip: int = 0, like_target: bool = False):
        if unroll < 1:
            raise ValueError(f"unroll must be >= 1 (1: no training-time test), got {unroll}")
        shape = dict(heads=heads, kv_heads=kv_heads, intermediate_size=intermediate_size, layers=layers)
        super().__init__(data, target, draft_vocab_size, init_from, limit, skip, shape)
        if like_target:  # EAGLE's draft layer is one decoder layer of the target: its heads, widths and norms
            self.shape_args.update(target_layer_shape(self.data.target_model), layers=layers)
        self.weights = (feature_weight, token_weight)
        self.noise = noise
        self.unroll, self.unroll_decay = unroll, unroll_decay

    def _unrolled(self, model, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per draft level j (0 .. unroll-1): its outputs (B, L, H) at every anchor, their goals and token labels.

        Level 0 is plain teacher forcing: position i reads (f_i, e(x_{i+1})). Level j reads, at anchor i,
        (level j-1's output at i, e(x_{i+j+1})) at rotary position i+j, predicting f_{i+j+1} and the
        token after it. Like a drafted node at inference it sees the real context (level 0 keys at
        positions <= i) and its own chain (the keys of levels 1..j at anchor i), through the net's cache.
        """
        net: EagleNet = getattr(model, "module", model)  # the bare net behind a DDP wrapper
        feats, real = batch["features"], batch["attention_mask"][:, :-1].bool()
        inputs, goals = feats[:, :-1], feats[:, 1:]  # (B, L, H): f_i in, f_{i+1} out
        if model.training and self.noise:
            rms = feats[batch["attention_mask"].bool()].pow(2).mean().sqrt()
            inputs = inputs + (torch.rand_like(inputs) * 2 - 1) * self.noise * rms
        next_ids, labels = batch["input_ids"][:, 1:], batch["labels"][:, 1:]  # x_{i+1}; the token after position i+1
        length = next_ids.shape[1]
        cache = DynamicCache() if self.unroll > 1 else None
        pred = model(inputs, net.embed_tokens(next_ids), attention_mask=real.long(), cache=cache)
        levels = [(pred, goals, labels)]
        if self.unroll == 1:
            return levels
        dtype = net.fc.weight.dtype
        anchors = torch.arange(length, device=feats.device)
        causal = (anchors[None, :] <= anchors[:, None])[None] & real[:, None, :]  # (B, L, L) level 0 keys
        chain = torch.eye(length, dtype=torch.bool, device=feats.device).expand(len(feats), -1, -1)
        for j in range(1, self.unroll):
            visible = torch.cat([causal] + [chain] * j, dim=-1)  # (B, L, (j+1) L)
            mask = torch.zeros(visible.shape, dtype=dtype, device=feats.device)
            mask.masked_fill_(~visible, torch.finfo(dtype).min)
            shifted_ids = F.pad(next_ids[:, j:], (0, j))  # x_{i+j+1}; anchors past the end read token 0 and are not scored
            positions = (anchors + j).expand(len(feats), -1)
            pred = model(pred, net.embed_tokens(shifted_ids), position_ids=positions, attention_mask=mask[:, None],
                         cache=cache)
            levels.append((pred, F.pad(goals[:, j:], (0, 0, 0, j)), F.pad(labels[:, j:], (0, j), value=IGNORE)))
        return levels

    def _scored(self, model, batch: dict[str, torch.Tensor]) -> list[Level]:
        """Each level's outputs and goals where it is scored: answer positions whose next token the head can
        name (possibly none for a deep level past the end of short answers)."""
        net: EagleNet = getattr(model, "module", model)
        scored = []
        for pred, goals, labels in self._unrolled(model, batch):
            answer = labels != IGNORE
            scored.append((pred[answer], goals[answer], net.logits(pred[answer]).float(), labels[answer]))
        return scored

    def _predict(self, model, batch: dict[str, torch.Tensor]) -> Level:
        """Level 0 alone: teacher forcing on real features (what the CTC drafter's slots read)."""
        return self._scored(model, batch)[0]

    def level_loss(self, level: Level) -> torch.Tensor:
        pred, goal, logits, labels = level
        loss = self.weights[1] * F.cross_entropy(logits, labels)
        if self.weights[0]:  # EAGLE-3 has no feature to regress to (its goals are fused inputs of another width)
            loss = loss + self.weights[0] * F.smooth_l1_loss(pred, goal)
        return loss

    def chain_correctness(self, model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, levels, L): whether level j's top-1 from anchor i is the target's token (a token outside the draft
        vocabulary, or a level past the answer's end, is a miss); and (B, L) the answer anchors, for
        evaluation.calibrate_tree's replay of greedy chain drafting."""
        net: EagleNet = getattr(model, "module", model)
        unknown = self.data.vocab.unknown if self.data.vocab is not None else -1
        levels = self._unrolled(model, batch)
        hits = [(net.logits(pred).argmax(-1) == labels) & (labels != IGNORE) & (labels != unknown)
                for pred, _, labels in levels]
        return torch.stack(hits, dim=1), levels[0][2] != IGNORE

    def per_head(self, model, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """[(logits, labels)] per draft level, on a teacher-forced token path (for evaluation.calibrate_tree)."""
        return [level[2:] for level in self._scored(model, batch)]

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        scored = self._scored(model, batch)
        # starts as a zero on the graph, so a batch with nothing to score still gives every DDP rank a backward
        total, weights = scored[0][0].sum() * 0.0, 0.0
        for j, level in enumerate(scored):
            if len(level[3]):  # a deep level may have nothing left to score in a batch of short answers
                total, weights = total + self.unroll_decay ** j * self.level_loss(level), weights + self.unroll_decay ** j
        return total / weights if weights else total
