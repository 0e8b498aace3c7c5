"""Line-numbered reading of JSONL row files (questions, answers): every error names the file and line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator


def decode_line(raw: bytes, path: Path, lineno: int, error: type[ValueError]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line); "
                    "save the file as UTF-8") from None


def checked_rows(
    path: Path,
    error: type[ValueError],
    check: Callable[[Any], str | None],
    row_id: Callable[[dict], Any] = lambda row: row["question_id"],
) -> Iterator[tuple[int, dict]]:
    """(1-based line number, row) for each non-blank line: parsed, passed `check`, its id not seen before."""
    seen: dict[Any, int] = {}  # row id -> line where it first appeared
    with path.open("rb") as f:  # bytes: a line that is not UTF-8 is reported with its number
        for lineno, raw in enumerate(f, start=1):
            line = decode_line(raw, path, lineno, error)
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
