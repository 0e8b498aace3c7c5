"""Published Medusa-1 heads (the layout of the FasterDecoding/Medusa checkpoints) as Medusa nets.

A published head is a folder, or a hub id, holding `config.json` (medusa_num_heads, medusa_num_layers,
base_model_name_or_path) and `medusa_lm_head.pt` or `medusa_lm_head.safetensors`:

    {i}.{j}.linear.weight (H, H), {i}.{j}.linear.bias   head i's residual block j < L: h + SiLU(W h + b)
    {i}.{L}.weight (V, H)                                 head i's own trained copy of the LM head

Head i (0-based) reads the target's last hidden state after the final norm at position t and names
x_{t+2+i}, as multispec's head i+1 does. Medusa-2 checkpoints (heads trained together with the
base model) ship a whole fine-tuned model instead and are not this layout.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from model.common.heads import build_and_load, read_weights, target_parts
from model.medusa.net import MedusaNet, MedusaShape

WEIGHT_FILES = ("medusa_lm_head.safetensors", "medusa_lm_head.pt")
_KEY = re.compile(r"^(\d+)\.(\d+)\.(linear\.weight|linear\.bias|weight)$")


def is_published(folder: Path) -> bool:
    """A folder in the published layout (and not one of multispec's own head folders)."""
    return not (folder / "medusa_config.json").exists() and any((folder / name).exists() for name in WEIGHT_FILES)


def our_state_dict(weights: dict[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    """Published tensor names -> MedusaNet's: `i.j.linear.*` -> `heads.i.j.linear.*`, `i.L.weight` -> `lm_heads.i.weight`."""
    ours = {}
    for name, tensor in weights.items():
        match = _KEY.match(name)
        if not match:
            raise ValueError(f"unexpected tensor {name!r}: not the published Medusa-1 layout")
        head, index, what = match.groups()
        ours[f"lm_heads.{head}.weight" if int(index) == blocks and what == "weight" else f"heads.{name}"] = tensor
    return ours


def load_published(folder: Path, target_model) -> MedusaNet:
    """A published Medusa-1 head, on `target_model`'s features (its own LM heads replace the target's)."""
    weights = read_weights(folder, WEIGHT_FILES)
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
    heads = 1 + max(int(_KEY.match(k).group(1)) for k in weights if _KEY.match(k))
    blocks = int(config.get("medusa_num_layers", 1))
    target_config = target_model.config.get_text_config()
    lm_head = weights.get(f"0.{blocks}.weight")
    rows = target_model.get_output_embeddings().weight.shape[0]
    if lm_head is None or lm_head.shape != (rows, target_config.hidden_size):
        found = "none" if lm_head is None else tuple(lm_head.shape)
        raise ValueError(f"{folder}: head 0's LM head is {found}, the target's is {(rows, target_config.hidden_size)}: "
                         f"these Medusa heads were trained for another model (or medusa_num_layers is not {blocks})")
    shape = MedusaShape(hidden_size=target_config.hidden_size, feature_layer=target_config.num_hidden_layers,
                        num_heads=heads, layers=blocks, own_lm_heads=True)
    net, missing, unexpected = build_and_load(lambda: MedusaNet(shape, *target_parts(target_model, None)),
                                              our_state_dict(weights, blocks))
    if missing or unexpected:
        raise ValueError(f"{folder}: not the published Medusa-1 layout (missing {missing}, unexpected {unexpected})")
    return net.eval()
