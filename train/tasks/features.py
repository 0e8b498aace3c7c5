"""Training data for feature-level draft heads (EAGLE, Medusa, Hydra): a hidden-state dump read as
padded batches, the target's frozen parts, and the reduced draft vocabulary.

A batch holds, per conversation (right-padded to the longest, T):
    features (B, T, H) float32   the target's LM-head input at each position (or, with `layers`, those
                                 layers' hidden states side by side: (B, T, len(layers) * H), for EAGLE-3)
    input_ids (B, T)             the conversation's tokens
    attention_mask (B, T)        1 on real tokens
    labels (B, T)                the target's greedy next token after each position, as a draft id;
                                 IGNORE on prompt tokens, padding, and tokens outside the draft vocabulary
                                 (those are `vocab.unknown` instead when `keep_outside` is set)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from data_generation.feature_shards import FeatureShards, hidden_key
from evaluation.jsonl_store import read_rows
from model.common.zoo import load_frozen_parts
from model.sd.vocab import DraftVocab

IGNORE = -100
DataSource = str | dict[str, Any]  # a dump folder or file, or {"path": P, "skip": N, "limit": N}: its own slice


def data_sources(data: DataSource | list[DataSource], limit: int | None, skip: int) -> list[tuple[str, int | None, int]]:
    """(path, limit, skip) of each source: the task's limit and skip, unless the source names its own."""
    sources = []
    for source in [data] if isinstance(data, (str, dict)) else data:
        if isinstance(source, str):
            sources.append((source, limit, skip))
        elif (isinstance(source, dict) and isinstance(source.get("path"), str) and set(source) <= {"path", "limit", "skip"}
              and whole(source.get("limit", 0)) and whole(source.get("skip", 0))):
            sources.append((source["path"], source.get("limit", limit), source.get("skip", skip)))
        else:
            raise ValueError(f"a data source is a path or {{\"path\": P, \"skip\": N, \"limit\": N}} (whole numbers), "
                             f"got {source!r}")
    return sources


def whole(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def source_length(path: str) -> int:
    """Conversations of a dump folder, or rows of a JSONL file."""
    return len(FeatureShards(path)) if Path(path).is_dir() else len(read_rows(path))


def conversation_range(source: str, count: int, limit: int | None, skip: int) -> range:
    """Rows skip .. skip+limit-1 of a source of `count` (a dump's conversations, a file's lines; all after `skip`
    without a limit; a negative limit -n leaves the last n apart, and a negative skip -n reads only the last n, the
    part such a limit left apart)."""
    if skip < 0 and -skip > count:
        raise ValueError(f"{source} holds {count} rows, fewer than the {-skip} asked for at its end")
    skip = count + skip if skip < 0 else skip
    end = count if not limit else count + limit if limit < 0 else min(count, skip + limit)
    if end <= skip:
        raise ValueError(f"{source} holds {count} rows: none left after skipping {skip}")
    return range(skip, end)


class FeatureData:
    def __init__(self, data: DataSource | list[DataSource], target: str, draft_vocab_size: int, init_from: str | None = None,
                 limit: int | None = None, skip: int = 0,
                 layers: tuple[int, ...] | Callable[[int], tuple[int, ...]] | None = None):
        """Conversations skip .. skip+limit-1 of each dump (`conversation_range`); several dumps (e.g. one per
        language, for a multilingual head) are read one after the other. `layers`: the hidden states read, or a
        function of the target's layer count giving them; by default the LM head's input alone. A source given as
        {"path": P, "skip": N, "limit": N} reads its own slice (a mix of dumps held apart differently)."""
        self.target_model, self.tokenizer = load_frozen_parts(target)  # embedding + LM head only: heads never run it
        num_layers = self.target_model.config.get_text_config().num_hidden_layers
        chosen = layers(num_layers) if callable(layers) else layers
        self.layers = tuple(chosen) if chosen else (num_layers,)
        self.keys = [hidden_key(layer) for layer in self.layers]
        self.parts = [self._part(*source) for source in data_sources(data, limit, skip)]
        # True: tokens outside the draft vocabulary stay labels (as `vocab.unknown`), so that an evaluation counts
        # them as the misses they are in drafting; training leaves them out (no head can learn to name them)
        self.keep_outside = False
        if init_from:
            self.vocab = DraftVocab.load(init_from)
        elif draft_vocab_size:
            answers = (self._answer_tokens(shards.tokens(i)) for shards, indices in self.parts for i in indices)
            target_rows = self.target_model.get_output_embeddings().weight.shape[0]
            self.vocab = DraftVocab.most_frequent(answers, draft_vocab_size, target_rows, [self.tokenizer.eos_token_id])
        else:
            self.vocab = None

    def _part(self, folder: str, limit: int | None, skip: int) -> tuple[FeatureShards, range]:
        """One dump and the conversation indices read from it."""
        shards = FeatureShards(folder)
        if not set(self.keys) <= set(shards.keys):
            wanted = " ".join(str(layer) for layer in self.layers)
            raise ValueError(f"{folder} holds layers {shards.layers}; this head reads layers {wanted} (for most heads "
                             f"the LM head's input): dump them with python -m data_generation.hidden_states "
                             f"--layers {wanted}")
        return shards, conversation_range(folder, len(shards), limit, skip)

    def _answer_tokens(self, row: dict[str, torch.Tensor]) -> list[int]:
        return row["target_argmax"][row["loss_mask"].bool()].tolist()

    def dataset(self) -> torch.utils.data.Dataset:
        parts = [torch.utils.data.Subset(shards, indices) for shards, indices in self.parts]
        return torch.utils.data.ConcatDataset(parts)

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        hidden = sum(rows[0][key].shape[-1] for key in self.keys)
        dtype = rows[0][self.keys[0]].dtype  # the dump's (bf16): widened on the device by the training loop
        batch = {"features": torch.zeros(len(rows), width, hidden, dtype=dtype),  # (B, T, H), or (B, T, 3H) for three layers
                 "input_ids": torch.zeros(len(rows), width, dtype=torch.long),
                 "attention_mask": torch.zeros(len(rows), width, dtype=torch.long),
                 "labels": torch.full((len(rows), width), IGNORE, dtype=torch.long)}
        for b, row in enumerate(rows):
            n = len(row["input_ids"])
            batch["features"][b, :n] = torch.cat([row[key].to(dtype) for key in self.keys], dim=-1)
            batch["input_ids"][b, :n] = row["input_ids"]
            batch["attention_mask"][b, :n] = 1
            labels = row["target_argmax"].clone()
            if self.vocab is not None:
                labels = self.vocab.to_draft[labels]
                if not self.keep_outside:
                    labels[labels == self.vocab.unknown] = IGNORE  # a token the head can never propose
            labels[~row["loss_mask"].bool()] = IGNORE
            batch["labels"][b, :n] = labels
        return batch

    def save_tokenizer(self, folder) -> None:
        self.tokenizer.save_pretrained(str(folder))
