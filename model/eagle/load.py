"""Load a trained EAGLE head next to a target, on the target's device."""
from __future__ import annotations

import torch

from model.common.target import Target
from model.eagle.net import EagleNet, load_net


def load_head(folder: str, target: Target) -> EagleNet:
    if not folder:
        raise ValueError("EAGLE needs a trained head: pass --head FOLDER (train one with scripts/train/eagle.sh)")
    # float32 on CPU (exact and cheap at this size); the target's half precision on accelerators
    dtype = torch.float32 if target.device.type == "cpu" else target.dtype
    net = load_net(folder, target.model)
    net.fc.to(target.device, dtype)
    net.decoder.to(target.device, dtype)
    return net
