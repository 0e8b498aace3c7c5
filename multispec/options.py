"""Command-line options shared by every tool that loads the target: declared here once, with one default each."""
from __future__ import annotations

import argparse
from typing import Any

from data_processing.errors import InputError, positive_int

from model.common.zoo import DEFAULT_TARGET


def add_target_options(parser: argparse.ArgumentParser, *, target: bool = True, dtype: bool = True,
                       device: bool = True) -> None:
    """--target, and --dtype / --device for tools that load the target themselves."""
    if target:
        parser.add_argument("--target", default=DEFAULT_TARGET,
                            help=f"embedded name ({DEFAULT_TARGET}, smollm2-135m), local folder or hub id")
    if dtype:
        parser.add_argument("--dtype", default="auto",
                            help="auto (bfloat16 where the hardware computes it natively, else float32), "
                                 "float32, bfloat16 or float16")
    if device:
        parser.add_argument("--device", default=None, help="default: cuda when present, else cpu")


DEFAULT_MAX_NEW_TOKENS = 128


def add_generation_options(parser: argparse.ArgumentParser, *, max_new_tokens: bool = True,
                           chat_template: bool = True) -> None:
    """--max-new-tokens (one default for every tool that generates) and --chat-template (tools that format prompts)."""
    if max_new_tokens:
        parser.add_argument("--max-new-tokens", type=positive_int, default=DEFAULT_MAX_NEW_TOKENS,
                            help=f"new tokens per answer at most (default {DEFAULT_MAX_NEW_TOKENS})")
    if chat_template:
        parser.add_argument("--chat-template", default="auto",
                            help="auto (a base model gets the completion profile), plain, model, completion or "
                                 "fastchat:<name>")


def namespace(parser: argparse.ArgumentParser, values: dict[str, Any], what: str) -> argparse.Namespace:
    """A tool's settings from Python values instead of a command line: its own defaults, then `values` by option name
    (underscores, e.g. max_new_tokens); unknown names and missing required options are errors naming `what`."""
    actions = [a for a in parser._actions if a.dest != argparse.SUPPRESS and a.dest != "help"]
    known = {a.dest for a in actions}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"{what}: no setting(s) {unknown}; settings: {sorted(known)}")
    missing = sorted(a.dest for a in actions if a.required and a.dest not in values)
    if missing:
        raise InputError(f"{what}: needs {missing}")
    typed = {a.dest: a.type for a in actions if callable(a.type)}

    def as_typed(key: str, value: Any) -> Any:  # text, e.g. a recipe variable, goes through the option's own type
        kind = typed.get(key)
        if kind is None:
            return value
        try:
            return [kind(v) if isinstance(v, str) else v for v in value] if isinstance(value, list) else \
                kind(value) if isinstance(value, str) else value
        except (ValueError, argparse.ArgumentTypeError) as err:
            raise InputError(f"{what}: {key}={value!r}: {err}") from None

    return argparse.Namespace(**{**{a.dest: a.default for a in actions},
                                 **{key: as_typed(key, value) for key, value in values.items()}})
