"""Drafter LM for `sd`: a small Llama-architecture decoder over the target's tokenizer, optionally with
a reduced draft vocabulary. Stage "pretrain" learns a language's text (training pool rows {"text"});
stage "finetune" starts from a pretrained drafter and learns the target's own choices, with the loss on answer
tokens only:
- sequence-level distillation, as in the multilingual drafter recipe: a self-distilled ShareGPT JSONL file, the
  target's whole answers as labels;
- word-level distillation: a teacher-forced hidden-state dump (`data_generation.hidden_states --continuation
  reference`): the drafter reads the given text (e.g. a pool's reference translations) and learns the target's
  greedy next token at every position of it (`target_argmax`), so any text becomes training data without
  generation. Only the dump's token tensors are read.

`data` may list several sources, of either kind (a generic drafter trains on the union of languages; a mixed one on
both distillations); `limit` and `skip` slice each source, or a source {"path": P, "limit": N, "skip": N} its own
(`train.tasks.features.conversation_range`). The reduced draft vocabulary ranks the answer tokens of `vocab_answers` (self-distilled files, at
most `vocab_limit` rows from each) first: those are the tokens `sd` has to propose, and for X->English translation they are mostly not in
the source language's text, so a vocabulary counted on that text alone cannot propose a quarter of them."""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from data_generation.feature_shards import FeatureShards
from evaluation.jsonl_store import read_rows
from model.common.heads import local_head
from model.common.zoo import DEFAULT_TARGET, load_tokenizer
from model.sd.vocab import DraftVocab
from train.tasks.features import IGNORE, DataSource, conversation_range, data_sources


def rows_of(files: str | list[str], limit: int | None) -> list[dict]:
    """Rows of one file or of several, at most `limit` from each."""
    return [row for file in ([files] if isinstance(files, str) else files) for row in read_rows(file)[:limit]]


def answer_ids(tokenizer, row: dict) -> list[int]:
    """A self-distilled ShareGPT row's answer as the target's tokens, EOS last (what sequence-level fine-tuning learns)."""
    return tokenizer(row["conversations"][1]["value"], add_special_tokens=False).input_ids + [tokenizer.eos_token_id]


class DrafterLMTask:
    def __init__(self, data: DataSource | list[DataSource], target: str = DEFAULT_TARGET, stage: str = "pretrain",
                 init_from: str | None = None, hidden_size: int = 256, layers: int = 2, heads: int = 4,
                 intermediate_size: int = 768, max_length: int = 128, draft_vocab_size: int = 8192,
                 limit: int | None = None, skip: int = 0, vocab_answers: str | list[str] | None = None, vocab_limit: int | None = None):
        if stage not in ("pretrain", "finetune"):
            raise ValueError(f"stage must be pretrain or finetune, got {stage!r}")
        if stage == "finetune" and not init_from:
            raise ValueError("stage finetune needs init_from: the pretrained drafter's folder")
        if init_from:  # a shipped drafter's name (`embedded:de/sd`) names its folder from here on
            init_from = str(local_head(init_from))
        self.tokenizer = load_tokenizer(target)
        self.stage, self.init_from, self.max_length = stage, init_from, max_length
        self.shape = dict(hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=heads,
                          num_key_value_heads=heads, intermediate_size=intermediate_size)
        self.target = target
        self.examples = [example for source in data_sources(data, limit, skip) for example in self._examples(*source)]
        if not self.examples:
            raise ValueError(f"no training rows in {data}")
        target_vocab = len(self.tokenizer)
        if init_from:
            self.vocab = DraftVocab.load(init_from)
        elif draft_vocab_size:
            special = [t for t in (self.tokenizer.bos_token_id, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id)
                       if t is not None]
            answers = [answer_ids(self.tokenizer, row) for row in rows_of(vocab_answers, vocab_limit)] if vocab_answers else []
            self.vocab = DraftVocab.most_frequent((ids for ids, _ in self.examples), draft_vocab_size, target_vocab,
                                                  special, first=answers)
        else:
            self.vocab = None

    def _examples(self, path: str, limit: int | None, skip: int) -> list[tuple[list[int], list[int]]]:
        """(input ids, labels) of one source's rows, both in the target's vocabulary; labels[t] is the token to
        predict after position t-1 (IGNORE where there is none), as transformers' causal-LM loss reads them."""
        if Path(path).is_dir():
            if self.stage != "finetune":
                raise ValueError(f"{path} is a hidden-state dump: word-level distillation is a finetune stage's data")
            shards = FeatureShards(path)
            if shards.index["settings"]["target"] != self.target:  # its labels are another model's choices
                raise ValueError(f"{path} was dumped from target {shards.index['settings']['target']!r}; this drafter "
                                 f"distills {self.target!r}")
            return [self._word_level(shards.tokens(i)) for i in conversation_range(path, len(shards), limit, skip)]
        rows = read_rows(path)
        return [self._sequence_level(rows[i]) for i in conversation_range(path, len(rows), limit, skip)]

    def _sequence_level(self, row: dict) -> tuple[list[int], list[int]]:
        """A pool row's text (pretrain: every token is a label) or a self-distilled answer (finetune: its tokens)."""
        tok = self.tokenizer
        if self.stage == "pretrain":
            ids = tok(row["text"]).input_ids + [tok.eos_token_id]
            labels = ids
        else:
            prompt_ids = tok(row["conversations"][0]["value"]).input_ids
            answer = answer_ids(tok, row)
            ids, labels = prompt_ids + answer, [IGNORE] * len(prompt_ids) + answer
        return ids[: self.max_length], labels[: self.max_length]

    def _word_level(self, item: dict[str, torch.Tensor]) -> tuple[list[int], list[int]]:
        """A teacher-forced conversation: after each continuation position t the label is the target's own greedy
        token (target_argmax[t]), whatever token the text has there."""
        ids, choice, loss = item["input_ids"].tolist(), item["target_argmax"].tolist(), item["loss_mask"].tolist()
        labels = [IGNORE] + [token if on else IGNORE for token, on in zip(choice[:-1], loss[:-1])]
        return ids[: self.max_length], labels[: self.max_length]

    def model(self) -> LlamaForCausalLM:
        if self.init_from:
            return LlamaForCausalLM.from_pretrained(self.init_from, dtype=torch.float32)
        vocab_size = self.vocab.size if self.vocab else len(self.tokenizer)
        config = LlamaConfig(vocab_size=vocab_size, tie_word_embeddings=True, max_position_embeddings=4096,
                             bos_token_id=self.tokenizer.bos_token_id, eos_token_id=self.tokenizer.eos_token_id,
                             pad_token_id=self.tokenizer.pad_token_id, **self.shape)
        return LlamaForCausalLM(config)

    def dataset(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        data = []
        for ids, labels in self.examples:
            inputs, labels = torch.tensor(ids), torch.tensor(labels)
            if self.vocab:
                inputs = self.vocab.to_draft[inputs]
                known = labels != IGNORE
                labels[known] = self.vocab.to_draft[labels[known]]
                labels[labels == self.vocab.unknown] = IGNORE  # a token the drafter can never propose
            data.append((inputs, labels))
        return data

    def collate(self, rows: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        width = max(len(ids) for ids, _ in rows)
        batch = {"input_ids": torch.zeros(len(rows), width, dtype=torch.long),  # (B, T)
                 "attention_mask": torch.zeros(len(rows), width, dtype=torch.long),
                 "labels": torch.full((len(rows), width), IGNORE, dtype=torch.long)}
        for i, (ids, labels) in enumerate(rows):
            batch["input_ids"][i, : len(ids)] = ids
            batch["attention_mask"][i, : len(ids)] = 1
            batch["labels"][i, : len(ids)] = labels
        return batch

    def loss(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(**batch).loss

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(str(folder))
        self.tokenizer.save_pretrained(str(folder))  # the target's: zoo checks drafter and target tokenizers agree
        if self.vocab:
            self.vocab.save(folder)
