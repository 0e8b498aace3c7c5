"""Spec-Bench question files: read with line-level validation, write as UTF-8 JSONL, stop strings per category.

A question file holds one JSON object per line:
    {"question_id": int | str, "category": str, "turns": [str, ...], "reference": [str, ...] | str (optional)}
Other keys are kept as they are, so files from elsewhere (e.g. Spec-Bench's own) load unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from data_processing.errors import InputError
from data_processing.jsonl_rows import checked_rows


class QuestionFileError(InputError):
    """A question file (or a row about to be written) breaks the format; the message says where and why."""


def row_problem(row: Any) -> str | None:
    """What is wrong with one question row, or None when it is valid."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    for key in ("question_id", "category", "turns"):
        if key not in row:
            return f"missing field '{key}'"
    qid = row["question_id"]
    # bool is a subclass of int, but an id of `true` is surely a mistake
    if isinstance(qid, bool) or not isinstance(qid, (int, str)) or qid == "":
        return f"'question_id' must be an int or a non-empty str, got {qid!r}"
    if not isinstance(row["category"], str) or not row["category"]:
        return f"'category' must be a non-empty str, got {row['category']!r}"
    turns = row["turns"]
    if not isinstance(turns, list) or not turns:
        return f"'turns' must be a non-empty list of str, got {turns!r}"
    for i, turn in enumerate(turns):
        if not isinstance(turn, str) or not turn.strip():
            return f"'turns'[{i}] must be a non-empty str, got {turn!r}"
    if "reference" in row:
        ref = row["reference"]
        ok = isinstance(ref, str) or (isinstance(ref, list) and all(isinstance(r, str) for r in ref))
        if not ok:
            return f"'reference' must be a str or a list of str, got {ref!r}"
    return None


def load_questions(path: str | Path) -> list[dict]:
    """All rows of a question file; raises QuestionFileError naming the file and the 1-based line."""
    path = Path(path)
    if not path.is_file():
        raise QuestionFileError(f"{path}: no such question file")
    rows = [row for _, row in checked_rows(path, QuestionFileError, row_problem)]
    if not rows:
        raise QuestionFileError(f"{path}: empty question file (no rows)")
    return rows


def write_questions(path: str | Path, rows: Iterable[dict]) -> int:
    """Validate and write rows as JSONL (UTF-8, non-ASCII kept readable); returns the number written.

    Rows are checked before anything is written, so a bad row never leaves a half-written file behind.
    """
    rows = list(rows)
    seen: set[int | str] = set()
    for i, row in enumerate(rows, start=1):
        problem = row_problem(row)
        if problem is None and row["question_id"] in seen:
            problem = f"duplicate question_id {row['question_id']!r}"
        if problem:
            raise QuestionFileError(f"{path}: row {i}: {problem}")
        seen.add(row["question_id"])
    if not rows:
        raise QuestionFileError(f"{path}: refusing to write an empty question file")
    write_jsonl(path, rows)
    return len(rows)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """One JSON object per line, parents created; used for question files and training pools alike."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


# Why these choices: a base (non-chat) model never emits EOS after a short answer, it keeps going with
# another "English: ..." line or a new question. Translations are one line, so the first newline ends
# them. Summaries, QA answers and worked math answers may wrap over lines but end at a blank line, after
# which a base model starts inventing the next example. Chat-style benchmarks (chat, mt_bench, sharegpt)
# legitimately answer in several paragraphs (lists, code) and target instruct models that stop at EOS,
# so they get no stop string; so does any category this project has not seen.
_STOPS_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "translation": ("\n",),
    "summarization": ("\n\n",),
    "qa": ("\n\n",),
    "math_reasoning": ("\n\n",),
}


def parse_stop(text: str) -> str:
    """A stop string as typed on a command line: backslash escapes (\\n, \\t, \\u00e4, ...) become the characters
    they name, so `--stop '\\n'` and `--stop $'\\n'` both stop at a newline; other text, non-ASCII included, stays
    as is. An empty stop string would stop before the first token and is refused."""
    decoded = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    if not decoded:
        raise ValueError("an empty stop string would stop every answer before it starts")
    return decoded


def stop_argument(text: str) -> str:
    """parse_stop for argparse: a bad value is a usage error naming the option, not a traceback."""
    import argparse

    try:
        return parse_stop(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def stop_strings(category: str) -> tuple[str, ...]:
    """Stop strings for a category like 'translation-de'; the family is the part before the first '-'."""
    if not isinstance(category, str) or not category:
        raise ValueError(f"category must be a non-empty str, got {category!r}")
    family = category.split("-", 1)[0]
    return _STOPS_BY_FAMILY.get(family, ())
