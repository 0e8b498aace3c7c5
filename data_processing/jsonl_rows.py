"""Line-numbered reading of JSONL row files (questions, answers): every error names the file and line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator


def checked_rows(
    path: Path,
    error: type[ValueError],
    check: Callable[[Any], str | None],
    row_id: Callable[[dict], Any] = lambda row: row["question_id"],
) -> Iterator[tuple[int, dict]]:
    """(1-based line number, row) for each non-blank line: parsed, passed `check`, its id not seen before."""
    seen: dict[Any, int] = {}  # row id -> line where it first appeared
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue  # a trailing newline or a blank line is not a row
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise error(f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
            problem = check(row)
            if problem:
                raise error(f"{path}:{lineno}: {problem}")
            qid = row_id(row)
            if qid in seen:
                raise error(f"{path}:{lineno}: duplicate question_id {qid!r} (first on line {seen[qid]})")
            seen[qid] = lineno
            yield lineno, row
