"""Input a user can fix (a file, a setting, a name) fails as one line naming what is wrong, not a traceback."""
from __future__ import annotations

import sys
from typing import Any, Callable


class InputError(ValueError):
    """Bad input: a row file, a configuration, an option, a model name. The message names the file and line
    (or the option) and says what to do; command-line tools print it alone and exit with status 2."""


def run_command(main: Callable[..., Any], argv: list[str] | None = None) -> None:
    """Run a command-line `main` as `python -m` does: an InputError raised anywhere below it prints as
    `error: ...` on stderr and exits with status 2; anything else is a bug and keeps its traceback. Called from
    Python (tests, studies), `main` itself raises, so callers can catch and inspect the error."""
    try:
        status = main(argv)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(status if isinstance(status, int) else 0)


def whole_number_at_least(text: str, minimum: int, message: str) -> int:
    """argparse's reading of a whole number >= minimum; `message` says what else it must be."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{message}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type for counts that must be at least 1 (--limit, --max-new-tokens, --batch-size): a usage error,
    checked before anything loads, instead of a silent slice from the end or a crash after the model loaded."""
    return whole_number_at_least(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    """argparse type for counts that may be 0 but not negative (--skip)."""
    return whole_number_at_least(text, 0, "must be >= 0")


def non_negative_float(text: str) -> float:
    """argparse type for settings such as --temperature that must be finite and >= 0."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value
