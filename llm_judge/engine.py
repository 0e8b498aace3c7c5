"""One local model answering requests through the shared decode loop (any method, any drafter).

Requests are served one at a time: the loop decodes a single sequence, and a lock keeps concurrent
HTTP requests from interleaving on the model's caches.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import torch

from evaluation.prompting import Prompt, PromptFormat, build_prompt, resolve_format
from evaluation.run import eos_ids
from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.common.zoo import load_model
from model.registry import build_drafter


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (EOS or a stop string) or "length"
    mean_accepted: float  # tokens per target forward: the method's speculation at work


class Engine:
    def __init__(self, model: str, method: str = "ar", options: dict[str, Any] | None = None,
                 dtype: str = "auto", device: str | None = None, chat_template: str = "auto"):
        hf_model, self.tokenizer = load_model(model, dtype=dtype, device=device)
        self.target = Target(hf_model)
        self.method, self.options = method, dict(options or {})
        self.format = resolve_format(PromptFormat(chat_template), self.tokenizer, model)
        self.eos = eos_ids(hf_model, self.tokenizer)
        self.context_length = int(getattr(hf_model.config, "max_position_embeddings", 0) or 0) or None
        self.generator = torch.Generator(self.target.output_device)
        self._drafters: dict[AcceptConfig, Any] = {}
        self._lock = threading.Lock()
        self.drafter_for(AcceptConfig())  # a bad method, option or drafter fails at start-up, not per request

    def drafter_for(self, accept: AcceptConfig):
        """Drafters take the accept rule at construction; one is kept per rule a client asked for."""
        if accept not in self._drafters:
            self._drafters[accept] = build_drafter(self.method, self.target, self.options, tokenizer=self.tokenizer,
                                                   accept=accept, generator=self.generator)
        return self._drafters[accept]

    def chat_prompt(self, messages: list[dict[str, str]]) -> Prompt:
        """The prompt for a chat (its ids, and the stop strings its format needs: a base model's conversation ends
        at "###"): system text joins the first user turn (not every template has a system role)."""
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns, answers = [], []
        for m in messages:
            if m["role"] == "user":
                turns.append(m["content"])
            elif m["role"] == "assistant":
                answers.append(m["content"])
        if not turns or messages[-1]["role"] != "user":
            raise ValueError("messages must contain a user turn and end with one")
        if system:
            turns[0] = f"{system}\n\n{turns[0]}"
        return build_prompt(self.tokenizer, self.format, turns, answers)

    def text_ids(self, prompt: str) -> list[int]:
        return self.tokenizer(prompt).input_ids

    def room(self, prompt_tokens: int) -> int | None:
        """How many tokens the context window leaves after the prompt (None: unbounded)."""
        return None if self.context_length is None else self.context_length - prompt_tokens

    def complete(self, ids: list[int], max_tokens: int, temperature: float, top_p: float,
                 stop: tuple[str, ...], seed: int | None) -> Completion:
        accept = AcceptConfig(temperature=temperature, top_p=top_p)
        cfg = GenerationConfig(max_new_tokens=max_tokens, accept=accept, eos_token_ids=self.eos, stop_strings=stop)
        with self._lock:
            drafter = self.drafter_for(accept)
            self.generator.manual_seed(seed if seed is not None else torch.seed() % 2**63)
            gen = generate(ids, self.target, drafter, cfg, self.tokenizer, self.generator)
        text = self.tokenizer.decode(gen.tokens, skip_special_tokens=True)
        stopped = bool(gen.tokens) and gen.tokens[-1] in self.eos
        for s in stop:
            if s in text:
                text, stopped = text[: text.index(s)], True
        finish = "stop" if stopped or len(gen.tokens) < max_tokens else "length"
        return Completion(text, len(ids), len(gen.tokens), finish, gen.stats.mean_accepted)
