"""The empty drafter: every step verifies only the pending token, so the loop decodes one token at a time."""
from __future__ import annotations

from dataclasses import dataclass

from model.common.state import DecodeState, Verdict
from model.common.tree import Draft


@dataclass(frozen=True)
class Config:
    """Plain decoding has no options."""


class PlainDrafter:
    hidden_layers: tuple[int, ...] = ()

    def reset(self, state: DecodeState) -> None:
        pass

    def propose(self, state: DecodeState) -> Draft:
        return Draft.empty()

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        pass


def build(target, config: Config, **_) -> PlainDrafter:
    return PlainDrafter()
