"""What the draft-head tasks (EAGLE, Medusa, Hydra) share: their data, a fresh or continued net, and saving.

A subclass sets `net_module` (a module with new_net / load_net) and implements loss(model, batch).
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from model.common.heads import local_head
from train.tasks.features import DataSource, FeatureData


class HeadTask:
    net_module: ModuleType

    def __init__(self, data: DataSource | list[DataSource], target: str, draft_vocab_size: int, init_from: str | None,
                 limit: int | None, skip: int, shape_args: dict[str, Any]):
        if init_from:  # a shipped head's name (`embedded:de/eagle3`) names its folder from here on
            init_from = str(local_head(init_from))
        self.data = FeatureData(data, target, draft_vocab_size, init_from, limit, skip, self.feature_layers(init_from))
        self.init_from, self.shape_args = init_from, shape_args
        self.dataset, self.collate = self.data.dataset, self.data.collate

    def feature_layers(self, init_from: str | None):
        """The target hidden states the net reads (see FeatureData's `layers`); None: the LM head's input."""
        return None

    def model(self) -> nn.Module:
        if self.init_from:  # continue training, or evaluate (calibrate_tree), a trained head
            return self.net_module.load_net(self.init_from, self.data.target_model).train()
        return self.net_module.new_net(self.data.target_model, self.data.vocab, **self.shape_args)

    def save(self, model, folder: Path) -> None:
        model.save(folder)
        self.data.save_tokenizer(folder)
