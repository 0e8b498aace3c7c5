"""Append-only JSONL files that survive interruption: one row per line, flushed and fsynced as written.

A run killed mid-write leaves at most one truncated last line; reopening drops it (after keeping a
copy), so a rerun resumes from the last complete row and never duplicates or loses one.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, IO


class JsonlStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = self._load()
        self._file: IO[str] | None = None

    def _load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        rows = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                if number == len(lines):  # the interrupted last write: no trailing newline
                    backup = self.path.with_suffix(self.path.suffix + ".partial")
                    shutil.copyfile(self.path, backup)
                    self.path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
                    print(f"[multispec] dropped a truncated last line of {self.path} (copy kept in {backup})")
                    break
                raise ValueError(f"{self.path}:{number}: not valid JSON ({err.msg}); refusing to append to it") from err
        return rows

    def append(self, row: dict[str, Any]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.rows.append(row)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "JsonlStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
