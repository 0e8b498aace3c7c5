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
    (underscores, e.g. max_new_tokens), each read as the command line would read it: a single value where the
    option takes several becomes a list, text and numbers go through the option's type (so `"limit": "0"` or
    `"limit": 0` is refused where the command line refuses --limit 0), choices are checked, and a flag takes true or
    false. Unknown names and missing required options are errors naming `what`."""
    actions = {a.dest: a for a in parser._actions if a.dest not in (argparse.SUPPRESS, "help")}
    unknown = sorted(set(values) - set(actions))
    if unknown:
        raise InputError(f"{what}: no setting(s) {unknown}; settings: {sorted(actions)}")
    missing = sorted(dest for dest, a in actions.items() if a.required and dest not in values)
    if missing:
        raise InputError(f"{what}: needs {missing}")

    def one(action: argparse.Action, value: Any) -> Any:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and callable(action.type):
            value = action.type(str(value))
        if action.choices is not None and value not in action.choices:
            raise argparse.ArgumentTypeError(f"{value!r} is not one of {sorted(map(str, action.choices))}")
        return value

    def read(dest: str, value: Any) -> Any:
        action = actions[dest]
        try:
            if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)):
                flags = {"true": True, "false": False}
                if isinstance(value, str) and value.lower() in flags:
                    return flags[value.lower()]
                if not isinstance(value, bool):
                    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
                return value
            several = action.nargs in ("+", "*") or isinstance(action.nargs, int) and action.nargs > 0 or \
                isinstance(action, argparse._AppendAction)
            if several and isinstance(value, dict):  # a mapping where the command line takes key=value items
                return value
            if several:
                return [one(action, v) for v in (value if isinstance(value, list) else [value])]
            return one(action, value)
        except (ValueError, argparse.ArgumentTypeError) as err:
            raise InputError(f"{what}: {dest}={value!r}: {err}") from None

    return argparse.Namespace(**{**{dest: a.default for dest, a in actions.items()},
                                 **{dest: read(dest, value) for dest, value in values.items()}})
