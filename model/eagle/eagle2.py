"""`eagle2` (EAGLE-2): the EAGLE draft net with a dynamic, confidence-ranked draft tree."""
from __future__ import annotations

from dataclasses import dataclass

from model.common.tree_search import DynamicTree, check_min_path_prob
from model.eagle.drafter import EagleDrafter
from model.eagle.load import load_head


@dataclass(frozen=True)
class Config:
    head: str = ""  # a trained EAGLE head (train/tasks/eagle.py or eagle3.py), or a published one: folder or hub id
    depth: int = 5  # draft-net forwards per step after the first level: trees are depth + 1 deep
    top_k: int = 10  # nodes expanded per level, and children drawn per expanded node
    total_tokens: int = 60  # nodes kept after reranking, i.e. verified per step
    min_path_prob: float = 0.0  # grow only nodes whose draft path probability reaches this (0: all top_k)

    def __post_init__(self) -> None:
        if self.depth < 0 or self.top_k < 1 or self.total_tokens < 1:
            raise ValueError(f"need depth >= 0, top_k >= 1, total_tokens >= 1; got {self.depth}, {self.top_k}, {self.total_tokens}")
        check_min_path_prob(self.min_path_prob)


def build(target, config: Config, **_) -> EagleDrafter:
    policy = DynamicTree(config.depth, config.top_k, config.total_tokens, config.min_path_prob)
    return EagleDrafter(load_head(config.head, target), policy)
