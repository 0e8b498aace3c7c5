"""Read and validate answer files (JSONL, one row per question) and pull per-question numbers out of them.

Every error names the file and the 1-based line number, so a broken row in a long run is found at once.
Only choice 0 is used for speed metrics (Spec-Bench does the same).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from data_processing.errors import InputError
from data_processing.jsonl_rows import checked_rows

Row = dict[str, Any]


class AnswerFileError(InputError):
    """An answer file is missing, unreadable or has a row that breaks the format."""


def _is_int(x: Any) -> bool:
    # bool is a subclass of int in Python; a JSON `true` is never a token count.
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return (_is_int(x) or isinstance(x, float)) and math.isfinite(x)


def _check_row(row: Any) -> str | None:
    """Returns what is wrong with one parsed row, or None if it is usable."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    qid = row.get("question_id")
    if not (_is_int(qid) or (isinstance(qid, str) and qid)):  # Spec-Bench ids are ints, ours strings
        return "'question_id' must be an integer or a non-empty string"
    for key in ("category", "method"):
        if not isinstance(row.get(key), str) or not row[key]:
            return f"'{key}' must be a non-empty string"
    if "lossy" in row and not isinstance(row["lossy"], bool):
        return "'lossy' must be true or false"
    choices = row.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "'choices' must be a non-empty list of objects"
    choice = choices[0]
    new_tokens, wall_time = choice.get("new_tokens"), choice.get("wall_time")
    if not isinstance(new_tokens, list) or not new_tokens or not all(_is_int(n) and n >= 0 for n in new_tokens):
        return "choices[0].new_tokens must be a non-empty list of integers >= 0"
    if not isinstance(wall_time, list) or not all(_is_number(t) and t >= 0 for t in wall_time):
        return "choices[0].wall_time must be a list of finite numbers >= 0"
    if len(wall_time) != len(new_tokens):
        return f"choices[0] has {len(new_tokens)} new_tokens entries but {len(wall_time)} wall_time entries (one per turn)"
    if sum(wall_time) <= 0:
        # tokens/s is undefined without elapsed time; a zero clock means the timing was not recorded.
        return "choices[0].wall_time sums to 0 seconds; tokens/s is undefined"
    accept = choice.get("accept_lengths")
    if not isinstance(accept, list) or not all(_is_int(a) and a >= 1 for a in accept):
        # Every target forward emits at least its bonus token, so 0 is not a valid accept length.
        return "choices[0].accept_lengths must be a list of integers >= 1"
    return None


def load_answers(path: str | Path) -> list[Row]:
    """All rows of an answer file, validated. One method and one lossy flag per file; no repeated question_id."""
    path = Path(path)
    if not path.is_file():
        raise AnswerFileError(f"{path}: cannot read answer file (no such file)")
    rows: list[Row] = []
    for lineno, row in checked_rows(path, AnswerFileError, _check_row):
        if rows and row["method"] != rows[0]["method"]:
            # Metrics are reported per file and method; a mixed file would blur two methods into one number.
            raise AnswerFileError(
                f"{path}:{lineno}: method '{row['method']}' differs from '{rows[0]['method']}' of the first row"
            )
        if rows and is_lossy(row) != is_lossy(rows[0]):
            raise AnswerFileError(f"{path}:{lineno}: 'lossy' differs from the first row of the file")
        rows.append(row)
    if not rows:
        raise AnswerFileError(f"{path}: answer file has no rows")
    return rows


def new_tokens(row: Row) -> int:
    """Tokens generated for the question, all turns of choice 0."""
    return sum(row["choices"][0]["new_tokens"])


def wall_time(row: Row) -> float:
    """Seconds spent generating the question, all turns of choice 0."""
    return float(sum(row["choices"][0]["wall_time"]))


def tokens_per_second(row: Row) -> float:
    return new_tokens(row) / wall_time(row)


def accept_lengths(row: Row) -> list[int]:
    """Tokens emitted by each target forward pass, all turns of choice 0 concatenated."""
    return list(row["choices"][0]["accept_lengths"])


def is_lossy(row: Row) -> bool:
    return bool(row.get("lossy", False))


DRAFTING_SETTINGS = ("draft_dtype",)  # run settings (not method options) that change how a method drafts


def run_options(config: dict[str, Any]) -> dict[str, Any]:
    """What sets a run's drafting apart from another of its method: the method's options and the drafting run
    settings recorded with them (so two files differing only in --draft-dtype are not taken for repeated runs)."""
    return {**(config.get("method_options") or {}), **{k: config[k] for k in DRAFTING_SETTINGS if k in config}}


def run_label(row: Row) -> str:
    """The row's `run` label as text ('' when absent)."""
    run = row.get("run")
    return "" if run is None else str(run)
