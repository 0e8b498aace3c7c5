"""`eagle3` (EAGLE-3): EAGLE-2's dynamic draft tree over an EAGLE-3 net (model/eagle/net3.py), which fuses the
target's low, mid and high layers and was trained with the training-time test (train/tasks/eagle3.py),
or a published EAGLE-3 head. `eagle2 --head` takes the same heads; this name keeps results labelled."""
from __future__ import annotations

from model.common.tree_search import DynamicTree
from model.eagle.drafter import EagleDrafter
from model.eagle.eagle2 import Config
from model.eagle.load import load_head
from model.eagle.net3 import Eagle3Net

__all__ = ["Config", "build"]


def build(target, config: Config, **_) -> EagleDrafter:
    net = load_head(config.head, target)
    if not isinstance(net, Eagle3Net):
        raise ValueError(f"{config.head} is an EAGLE-1/2 head: eagle3 drafts with EAGLE-3 heads (train one with "
                         f"scripts/train/eagle3.sh), use eagle2 for this one")
    return EagleDrafter(net, DynamicTree(config.depth, config.top_k, config.total_tokens, config.min_path_prob))
