"""The hidden-state dump format: its shard writer, and its reader as a torch Dataset of conversations
(`data_generation.hidden_states` computes what is written).

A dump folder holds `index.json` and `shard_00000.safetensors`, `shard_00001.safetensors`, ... Each
shard stores flat concatenations over its conversations, cut apart by `offsets` (n+1,):

    input_ids (T,) int64, loss_mask (T,) uint8, target_argmax (T,) int64, hidden_<layer> (T, H)

Conversation j of a shard spans rows offsets[j]:offsets[j+1]. Shards are opened lazily with
`safetensors.safe_open` (memory-mapped), so a DataLoader worker only maps the shards it touches.
"""
from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch.utils.data import Dataset

INDEX_NAME = "index.json"
FORMAT = "multispec-hidden-states"
VERSION = 1
PRENORM = "prenorm"  # the last decoder layer's output before the final norm (not reachable by a HF index)
TOKEN_TENSORS = ("input_ids", "loss_mask", "target_argmax")


def shard_name(number: int) -> str:
    return f"shard_{number:05d}.safetensors"


def hidden_key(layer: int | str) -> str:
    return f"hidden_{layer}"


def read_index(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / INDEX_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: not a hidden-state dump folder (run python -m data_generation.hidden_states)")
    index = json.loads(path.read_text(encoding="utf-8"))
    if index.get("format") != FORMAT or index.get("version") != VERSION:
        raise ValueError(f"{path}: format {index.get('format')!r} v{index.get('version')}, expected {FORMAT!r} v{VERSION}")
    return index


class FeatureShards(Dataset):
    """Per-conversation tensors from a finished dump: `ds[i]` -> {"id", "input_ids", "loss_mask", "target_argmax", "hidden_<layer>"...}."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.index = read_index(self.folder)
        if not self.index.get("complete"):
            raise ValueError(f"{self.folder} is an unfinished dump: rerun the same hidden_states command to finish it")
        self.shards: list[dict[str, Any]] = self.index["shards"]
        self.layers: list[int | str] = self.index["settings"]["layers"]
        self.keys = TOKEN_TENSORS + tuple(hidden_key(layer) for layer in self.layers)
        # starts[s] = global number of shard s's first conversation; bisect finds a conversation's shard
        self.starts: list[int] = []
        total = 0
        for shard in self.shards:
            self.starts.append(total)
            total += shard["count"]
        self._len = total
        self._handles: dict[int, Any] = {}
        self._offsets: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return self._len

    def _open(self, s: int):
        if s not in self._handles:
            path = self.folder / self.shards[s]["file"]
            if not path.exists():
                raise FileNotFoundError(f"{path} is listed in {INDEX_NAME} but missing: rerun the hidden_states command to rewrite it")
            handle = safe_open(str(path), framework="pt")
            offsets = handle.get_tensor("offsets").tolist()
            if len(offsets) != self.shards[s]["count"] + 1:
                raise ValueError(f"{path}: {len(offsets) - 1} conversations, {INDEX_NAME} says {self.shards[s]['count']}")
            self._handles[s], self._offsets[s] = handle, offsets
        return self._handles[s]

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self._read(i, self.keys)

    def tokens(self, i: int) -> dict[str, Any]:
        """Conversation i without its hidden states: id, input_ids, loss_mask, target_argmax."""
        return self._read(i, TOKEN_TENSORS)

    def _read(self, i: int, keys: tuple[str, ...]) -> dict[str, Any]:
        if not -self._len <= i < self._len:
            raise IndexError(f"conversation {i} out of range for {self._len} conversations")
        i %= self._len
        s = bisect.bisect_right(self.starts, i) - 1
        j = i - self.starts[s]
        handle = self._open(s)
        lo, hi = self._offsets[s][j], self._offsets[s][j + 1]
        item: dict[str, Any] = {"id": self.shards[s]["ids"][j]}
        for key in keys:
            item[key] = handle.get_slice(key)[lo:hi]  # reads only these rows from the mapped file
        return item

    def __getstate__(self) -> dict[str, Any]:
        # open safetensors handles cannot be pickled into DataLoader workers; each worker reopens lazily
        state = self.__dict__.copy()
        state["_handles"], state["_offsets"] = {}, {}
        return state


_SAFETENSORS_DTYPES = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32", torch.int64: "I64",
                       torch.uint8: "U8"}


class StreamedShard:
    """A safetensors file written while its batches arrive, so no shard is ever held in memory (a 4096-wide
    target's 2,000-conversation shard would be ~5 GB of RAM).

    Every tensor's shape is known from the plan, so the header goes first and each conversation's rows are
    written at their place as its batch finishes. The layout is safetensors' own (8-byte little-endian header
    length, a JSON header padded to 8 bytes, then the tensors' raw little-endian bytes back to back); the
    safetensors library has no streaming writer, and its reader (safe_open) checks the result like any file."""

    def __init__(self, path: Path, specs: dict[str, tuple[torch.dtype, tuple[int, ...]]], metadata: dict[str, str]):
        header: dict[str, Any] = {"__metadata__": metadata}
        self.offsets: dict[str, int] = {}
        self.row_bytes: dict[str, int] = {}
        offset = 0
        for name, (dtype, shape) in specs.items():
            item = torch.empty((), dtype=dtype).element_size()
            nbytes = item * int(torch.tensor(shape).prod()) if shape else item
            header[name] = {"dtype": _SAFETENSORS_DTYPES[dtype], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            self.offsets[name], self.row_bytes[name] = offset, nbytes // max(shape[0], 1)
            offset += nbytes
        blob = json.dumps(header, separators=(",", ":")).encode()
        blob += b" " * (-len(blob) % 8)
        self.file = open(path, "wb")
        self.file.write(len(blob).to_bytes(8, "little") + blob)
        self.start = 8 + len(blob)
        self.file.truncate(self.start + offset)

    def write(self, name: str, first_row: int, rows: torch.Tensor) -> None:
        self.file.seek(self.start + self.offsets[name] + first_row * self.row_bytes[name])
        self.file.write(rows.contiguous().cpu().view(torch.uint8).numpy().tobytes())

    def close(self) -> None:
        self.file.close()
