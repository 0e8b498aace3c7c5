"""EAGLE head training from hidden-state dumps (`data_generation.hidden_states --layers <L>`).

Teacher forcing over the target's real features: net position i reads (f_i + noise, e(x_{i+1})) and
is trained to output f_{i+1} (SmoothL1) whose LM-head distribution must name the target's greedy
token after position i+1 (cross-entropy), on answer positions only:

    loss = feature_weight * SmoothL1(pred_i, f_{i+1}) + token_weight * CE(head(pred_i), argmax_{i+1})

The noise is uniform in [-noise, noise] times the batch's feature RMS (EAGLE's U(-0.1, 0.1) was
for features of RMS ~1); it teaches the net to draft from its own, imperfect, predicted features.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from data_generation.feature_shards import FeatureShards, hidden_key
from model.common.zoo import load_model
from model.eagle.net import EagleNet, load_net, new_net
from model.sd.vocab import DraftVocab

IGNORE = -100


class EagleTask:
    def __init__(self, data: str, target: str = "gemma-3-270m", draft_vocab_size: int = 8192, heads: int = 8,
                 kv_heads: int = 8, intermediate_size: int = 1728, layers: int = 1, feature_weight: float = 1.0,
                 token_weight: float = 0.1, noise: float = 0.1, init_from: str | None = None, limit: int | None = None):
        self.shards = FeatureShards(data)
        self.count = min(len(self.shards), limit) if limit else len(self.shards)
        self.target_model, self.tokenizer = load_model(target, dtype="bfloat16", device="cpu")
        layer = self.target_model.config.get_text_config().num_hidden_layers
        self.key = hidden_key(layer)
        if self.key not in self.shards.keys:
            raise ValueError(f"{data} holds layers {self.shards.layers}; EAGLE reads layer {layer} (the LM head's input): "
                             f"dump it with python -m data_generation.hidden_states --layers {layer}")
        self.shape_args = dict(heads=heads, kv_heads=kv_heads, intermediate_size=intermediate_size, layers=layers)
        self.init_from = init_from
        self.weights = (feature_weight, token_weight)
        self.noise = noise
        if init_from:
            self.vocab = DraftVocab.load(init_from)
        elif draft_vocab_size:
            answers = (self._answer_tokens(i) for i in range(self.count))
            special = [self.tokenizer.eos_token_id]
            self.vocab = DraftVocab.most_frequent(answers, draft_vocab_size, self.target_model.get_output_embeddings().weight.shape[0], special)
        else:
            self.vocab = None
        self.to_draft = self.vocab.to_draft if self.vocab else None

    def _answer_tokens(self, i: int) -> list[int]:
        row = self.shards[i]
        return row["target_argmax"][row["loss_mask"].bool()].tolist()

    def model(self) -> EagleNet:
        if self.init_from:
            return load_net(self.init_from, self.target_model).train()
        return new_net(self.target_model, self.vocab, **self.shape_args)

    def dataset(self) -> torch.utils.data.Subset:
        return torch.utils.data.Subset(self.shards, range(self.count))

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        hidden = rows[0][self.key].shape[-1]
        batch = {"features": torch.zeros(len(rows), width, hidden),  # (B, T, H)
                 "input_ids": torch.zeros(len(rows), width, dtype=torch.long),
                 "attention_mask": torch.zeros(len(rows), width, dtype=torch.long),
                 "labels": torch.full((len(rows), width), IGNORE, dtype=torch.long)}  # target's greedy next token, draft ids
        for b, row in enumerate(rows):
            n = len(row["input_ids"])
            batch["features"][b, :n] = row[self.key].float()
            batch["input_ids"][b, :n] = row["input_ids"]
            batch["attention_mask"][b, :n] = 1
            labels = row["target_argmax"].clone() if self.to_draft is None else self.to_draft[row["target_argmax"]]
            if self.vocab is not None:
                labels[labels == self.vocab.unknown] = IGNORE  # a token the head can never propose
            labels[~row["loss_mask"].bool()] = IGNORE
            batch["labels"][b, :n] = labels
        return batch

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        net: EagleNet = getattr(model, "module", model)  # the bare net behind a DDP wrapper
        feats = batch["features"]
        inputs, goal = feats[:, :-1], feats[:, 1:]  # (B, T-1, H): f_i in, f_{i+1} out
        if model.training and self.noise:
            rms = feats[batch["attention_mask"].bool()].pow(2).mean().sqrt()
            inputs = inputs + (torch.rand_like(inputs) * 2 - 1) * self.noise * rms
        pred = model(inputs, net.embed_tokens(batch["input_ids"][:, 1:]), attention_mask=batch["attention_mask"][:, :-1])
        labels = batch["labels"][:, 1:]  # the token after position i+1
        answer = labels != IGNORE  # answer positions whose next token the head can name
        feature_loss = F.smooth_l1_loss(pred[answer], goal[answer])
        token_loss = F.cross_entropy(net.logits(pred[answer]).float(), labels[answer])
        return self.weights[0] * feature_loss + self.weights[1] * token_loss

    def save(self, model: EagleNet, folder: Path) -> None:
        model.save(folder)
        self.tokenizer.save_pretrained(str(folder))
