"""Load a trained EAGLE head next to a target, on the target's device."""
from __future__ import annotations

from model.common.heads import place
from model.common.target import Target
from model.eagle.net import EagleNet, load_net


def load_head(folder: str, target: Target) -> EagleNet:
    if not folder:
        raise ValueError("EAGLE needs a trained head: pass --head FOLDER (train one with scripts/train/eagle.sh)")
    return place(load_net(folder, target.model), target)
