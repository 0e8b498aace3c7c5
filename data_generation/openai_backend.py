"""Self-distillation through any OpenAI-compatible server (vLLM, llm_judge.serve, ...): concurrent requests.

Retries with exponential backoff on 429, 5xx, timeouts and connection errors are the openai client's
own (max_retries); nothing here re-implements them.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor


class OpenAIBackend:
    def __init__(self, base_url: str, model: str, max_new_tokens: int, stop_strings: tuple[str, ...] = (),
                 concurrency: int = 8, max_retries: int = 6, timeout: float = 120.0, chat: bool = False):
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"),
                             max_retries=max_retries, timeout=timeout)
        self.model, self.max_new_tokens, self.stop_strings = model, max_new_tokens, stop_strings
        self.concurrency, self.chat = concurrency, chat

    def _one(self, prompt: str, temperature: float, seed: int) -> tuple[str, int]:
        common = dict(model=self.model, max_tokens=self.max_new_tokens, temperature=temperature,
                      stop=list(self.stop_strings) or None, seed=seed)
        if self.chat:  # a chat target answers the prompt as a user message, in its own template (the server's)
            response = self.client.chat.completions.create(messages=[{"role": "user", "content": prompt}], **common)
            text = response.choices[0].message.content or ""
        else:  # a base target: the completions endpoint takes the raw prompt, exactly as the local backend feeds it
            response = self.client.completions.create(prompt=prompt, **common)
            text = response.choices[0].text
        tokens = response.usage.completion_tokens if response.usage else len(text.split())
        return text, tokens

    def complete(self, prompts: list[str], temperature: float, seed: int) -> list[tuple[str, int]]:
        """(text, completion tokens) per prompt, in order."""
        return [(text, n) for _, text, n in self.stream(list(enumerate(prompts)), temperature, seed)]

    def stream(self, items: Iterable[tuple[object, str]], temperature: float, seed: int) -> Iterator[tuple[object, str, int]]:
        """(key, text, completion tokens) for each (key, prompt), in order, --concurrency requests in flight."""
        items = list(items)
        with ThreadPoolExecutor(self.concurrency) as pool:
            answers = pool.map(lambda i: self._one(items[i][1], temperature, seed + i), range(len(items)))
            for (key, _), (text, n) in zip(items, answers):
                yield key, text, n
