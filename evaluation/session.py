"""One decoding session: the loaded target, its prompt format and end-of-sequence ids, and the method's drafter.

The answer runner (`evaluation.run`), the OpenAI-compatible server (`llm_judge.serve`) and `compare_hf` all decode
through this object, so loading a target, building a drafter, formatting a prompt, choosing stop strings and
generating are written once.
"""
from __future__ import annotations

from typing import Any

import torch

from data_processing.questions import stop_strings
from evaluation.prompting import Prompt, PromptFormat, build_prompt, resolve_format
from model.common.accept import AcceptConfig
from model.common.loop import Generation, GenerationConfig, generate
from model.common.target import Target
from model.common.zoo import load_model, load_tokenizer
from model.registry import build_drafter


def eos_ids(model, tokenizer) -> tuple[int, ...]:
    """Every id that ends a sequence: the tokenizer's EOS and the generation config's (Gemma lists two)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids |= set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    return tuple(sorted(ids))


class Session:
    def __init__(self, target: str, method: str = "ar", options: dict[str, Any] | None = None, *,
                 dtype: str = "auto", device: str | None = None, device_map: str | None = None,
                 attn_implementation: str | None = None, chat_template: str = "auto", quantize_target: bool = False,
                 draft_dtype: str = "auto", loaded: tuple | None = None):
        """`loaded`: a (model, tokenizer) of `target` already in memory (side-by-side runs share one); `draft_dtype`:
        what the drafter computes in (auto: the target's dtype)."""
        self.name = target
        # the format resolves from the tokenizer alone, before the model loads: a chat model without a template
        # stops here, not after minutes of loading
        self.format = resolve_format(PromptFormat(chat_template), loaded[1] if loaded else load_tokenizer(target), target)
        model, self.tokenizer = loaded or load_model(target, dtype=dtype, device=device, device_map=device_map,
                                                     attn_implementation=attn_implementation)
        if quantize_target:
            from model.common.quantize import int8_dynamic

            model = int8_dynamic(model)
        self.target = Target(model, draft_dtype)
        self.eos = eos_ids(model, self.tokenizer)
        self.context_length = int(getattr(model.config, "max_position_embeddings", 0) or 0) or None
        self.generator = torch.Generator(self.target.output_device)
        self.method, self.options = method, dict(options or {})
        self._drafters: dict[AcceptConfig, Any] = {}

    def drafter(self, accept: AcceptConfig):
        """The method's drafter for this accept rule (drafters take it at construction; one is kept per rule)."""
        if accept not in self._drafters:
            self._drafters[accept] = build_drafter(self.method, self.target, self.options, tokenizer=self.tokenizer,
                                                   accept=accept, generator=self.generator)
        return self._drafters[accept]

    def prompt(self, turns: list[str], answers: list[str], category: str | None = None) -> Prompt:
        return build_prompt(self.tokenizer, self.format, turns, answers, category)

    def stops(self, prompt: Prompt, category: str) -> tuple[str, ...]:
        """The category's stop strings (translation: a newline) and those the prompt's format needs (a base
        model's conversation ends at "###")."""
        return tuple(dict.fromkeys(stop_strings(category) + prompt.stops))

    def generate(self, ids: list[int], accept: AcceptConfig, max_new_tokens: int,
                 stops: tuple[str, ...]) -> Generation:
        """One answer through the shared loop, sampling (if any) from `self.generator` as seeded by the caller."""
        cfg = GenerationConfig(max_new_tokens=max_new_tokens, accept=accept, eos_token_ids=self.eos, stop_strings=stops)
        return generate(ids, self.target, self.drafter(accept), cfg, self.tokenizer, self.generator)
