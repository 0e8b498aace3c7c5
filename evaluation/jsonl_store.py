"""Append-only JSONL files that survive interruption and refuse a second writer.

One row per line, flushed and fsynced as written. A run killed mid-write leaves at most one truncated
last line: it is cut off (a copy kept) only when the next row is appended, so a run that is refused
(e.g. another configuration) leaves the file exactly as it found it. A last row without its newline is
completed before the next row goes on. The writer holds an exclusive lock on the file from opening to
closing: a second run writing the same file stops at once instead of duplicating every row.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import IO, Any

from data_processing.errors import InputError
from data_processing.jsonl_rows import decode_line


class OutputFileError(InputError):
    """An output file that cannot be written: unwritable, in use by another run, or broken before its last line."""


def lock_exclusively(file: IO, path: Path) -> None:
    """Hold an exclusive lock on an open file until it is closed; refuse if another process holds one."""
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        raise OutputFileError(f"{path} is being written by another run (it holds the file's lock); "
                              "wait for it to finish or pass another output path") from None


def parse_rows(data: bytes, path: Path) -> tuple[list[dict[str, Any]], int]:
    """(rows, bytes that hold them): a last line that is not a complete row (an interrupted write) is left out."""
    rows: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    good, offset = 0, 0
    for lineno, raw in enumerate(lines, start=1):
        last = lineno == len(lines)  # the text after the final newline ("" when the file ends with one)
        offset += len(raw) + (0 if last else 1)
        try:
            line = decode_line(raw, path, lineno, OutputFileError)
            if line.strip():
                rows.append(json.loads(line))
        except (json.JSONDecodeError, OutputFileError) as err:
            if last:
                break
            raise OutputFileError(f"{path}:{lineno}: not a valid JSON row ({err}); refusing to append to it") from None
        good = offset
    return rows, good


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The complete rows of a JSONL file (none if it does not exist), without writing or locking it."""
    path = Path(path)
    return parse_rows(path.read_bytes(), path)[0] if path.exists() else []


class JsonlStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        existed = self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[bytes] | None = open(self.path, "a+b")
        except OSError as err:
            raise OutputFileError(f"{self.path}: cannot write here ({err.strerror})") from None
        lock_exclusively(self._file, self.path)
        self._created = not existed
        self._file.seek(0)
        data = self._file.read()
        self.rows, self._good = parse_rows(data, self.path)
        self._tail = data[self._good:]  # a truncated last line, cut off before the next append
        self._needs_newline = self._good > 0 and not data[: self._good].endswith(b"\n")
        self._appended = 0

    def _repair(self) -> None:
        """Before the first new row: drop an interrupted last line (keeping a copy), end the last row's line."""
        assert self._file is not None
        if self._tail.strip():
            backup = self.path.with_suffix(self.path.suffix + ".partial")
            shutil.copyfile(self.path, backup)
            self._file.truncate(self._good)
            print(f"[multispec] dropped a truncated last line of {self.path} (copy kept in {backup})")
        if self._needs_newline:
            self._file.write(b"\n")
        self._tail, self._needs_newline = b"", False

    def append(self, row: dict[str, Any]) -> None:
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        if self._appended == 0:
            self._repair()
        self._file.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.rows.append(row)
        self._appended += 1

    def close(self) -> None:
        if self._file is None:
            return
        empty = self._created and self._appended == 0 and not self.rows
        self._file.close()  # releases the lock
        self._file = None
        if empty:  # opened for a run that wrote nothing (refused, or nothing to do): leave no empty file behind
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "JsonlStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
