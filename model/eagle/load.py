"""Load an EAGLE head next to a target, on the target's device: one trained here, or a published one."""
from __future__ import annotations

from model.common.heads import fetch_head, place
from model.common.target import Target
from model.eagle import net3
from model.eagle.net import EagleNet, load_net
from model.eagle.published import WEIGHT_FILES, is_published, load_published


def load_head(name: str, target: Target) -> EagleNet | net3.Eagle3Net:
    """`name`: a head folder of train/tasks/eagle.py (EAGLE-1/2 or, task eagle3, EAGLE-3), a published head's
    folder, or a published head's hub id."""
    if not name:
        raise ValueError("EAGLE needs a trained head: pass --head FOLDER (train one with scripts/train/eagle.sh)")
    folder = fetch_head(name, ["config.json", *WEIGHT_FILES])
    if (folder / "eagle_config.json").exists():
        net = load_net(folder, target.model)
    elif (folder / "eagle3_config.json").exists():
        net = net3.load_net(folder, target.model)
    elif is_published(folder):
        net = load_published(folder, target.model)
    else:
        raise FileNotFoundError(f"{folder} is not a trained EAGLE head (no eagle_config.json or eagle3_config.json: "
                                f"train one with scripts/train/eagle.sh or eagle3.sh) nor a published EAGLE-1/2 or "
                                f"EAGLE-3 head (config.json and {' or '.join(WEIGHT_FILES)})")
    return place(net, target)
