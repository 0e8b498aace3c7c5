"""`eagle` (EAGLE-1): the EAGLE draft net expanded into a static tree of rank paths."""
from __future__ import annotations

from dataclasses import dataclass

from model.common.heads import local_head
from model.common.static_tree import default_tree, head_tree, load_tree
from model.common.tree_search import StaticTree
from model.eagle.drafter import EagleDrafter
from model.eagle.load import load_head


@dataclass(frozen=True)
class Config:
    head: str = ""  # a trained EAGLE head (train/tasks/eagle.py or eagle3.py), or a published one: folder or hub id
    tree: str = ""  # JSON list of rank paths, e.g. [[0], [1], [0, 0]]; empty: the head folder's tree.json if it
    # ships one (weights/), else the default tree below
    total_tokens: int = 60  # nodes of the default tree
    depth: int = 6  # deepest path of the default tree
    top_k: int = 10  # widest branching of the default tree

    def __post_init__(self) -> None:
        if min(self.total_tokens, self.depth, self.top_k) < 1:
            raise ValueError("total_tokens, depth and top_k must be >= 1")


def build(target, config: Config, **_) -> EagleDrafter:
    net = load_head(config.head, target)
    tree = config.tree or head_tree(local_head(config.head))
    paths = load_tree(tree) if tree else default_tree(config.total_tokens, config.depth, config.top_k)
    return EagleDrafter(net, StaticTree(paths))
