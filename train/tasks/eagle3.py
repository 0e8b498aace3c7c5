"""EAGLE-3 head training from hidden-state dumps of the target's low, mid and high layers
(`data_generation.hidden_states --layers 2 9 15` for an 18-layer target: model.eagle.net3's defaults).

The same teacher forcing and training-time test as EAGLE's task (train/tasks/eagle.py): level 0 reads
the fused real features, level j >= 1 reads the net's own level j-1 output. The loss is cross-entropy
alone, every level weighted by unroll_decay**j: the net's output is not meant to equal any one target
feature, so there is nothing to regress it to. No input noise by default (the training-time test
already trains on the net's own imperfect features; noise scaled to the fused features' RMS would
drown the low layer), and each tapped layer is scaled to RMS 1 (`tap_norm`, see Eagle3Shape).
"""
from __future__ import annotations

import json
from pathlib import Path

from model.eagle import net3 as eagle_net3
from train.tasks.eagle import EagleTask
from train.tasks.features import DataSource


class Eagle3Task(EagleTask):
    net_module = eagle_net3

    def __init__(self, data: DataSource | list[DataSource], feature_layers: list[int] | None = None, unroll: int = 3,
                 tap_norm: bool = True, noise: float = 0.0, **eagle_args):
        if eagle_args.pop("feature_weight", 0.0):
            raise ValueError("EAGLE-3 trains on cross-entropy alone: feature_weight must be 0")
        self.requested_layers = tuple(feature_layers) if feature_layers else None
        super().__init__(data, feature_weight=0.0, unroll=unroll, noise=noise, **{"token_weight": 1.0, **eagle_args})
        self.shape_args.update(feature_layers=self.data.layers, tap_norm=tap_norm)

    def feature_layers(self, init_from: str | None):
        if self.requested_layers:
            return self.requested_layers
        if init_from:  # the layers the head was trained on
            return tuple(json.loads(Path(init_from, f"{eagle_net3.KIND}_config.json").read_text())["feature_layers"])
        return eagle_net3.default_feature_layers
