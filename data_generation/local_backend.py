"""Self-distillation with the HF model itself: batched, left-padded generate, rows stopping at stop strings."""
from __future__ import annotations

import torch
from transformers import StoppingCriteria, StoppingCriteriaList


class StopStringsPerRow(StoppingCriteria):
    """Marks each row done once its new text contains a stop string (decodes only a short tail per step)."""

    TAIL_TOKENS = 16

    def __init__(self, tokenizer, prompt_len: int, stops: tuple[str, ...]):
        self.tokenizer, self.prompt_len, self.stops = tokenizer, prompt_len, stops

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        tails = self.tokenizer.batch_decode(input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.TAIL_TOKENS):])
        return torch.tensor([any(s in t for s in self.stops) for t in tails], device=input_ids.device)


class LocalBackend:
    def __init__(self, model, tokenizer, max_new_tokens: int, stop_strings: tuple[str, ...] = ()):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.stop_strings = max_new_tokens, stop_strings

    @torch.inference_mode()
    def complete(self, prompts: list[str], temperature: float, seed: int) -> list[tuple[str, int]]:
        """(text, generated token count) per prompt; text not yet cut at stop strings."""
        self.tokenizer.padding_side = "left"  # new tokens must line up at the right edge
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.model.device)
        prompt_len = batch.input_ids.shape[1]
        torch.manual_seed(seed)  # HF samples from the global generator
        sampling = dict(do_sample=True, temperature=temperature, top_p=1.0, top_k=0) if temperature > 0 else \
            dict(do_sample=False, temperature=None, top_p=None, top_k=None)
        stops = StoppingCriteriaList([StopStringsPerRow(self.tokenizer, prompt_len, self.stop_strings)]) \
            if self.stop_strings else None
        out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, stopping_criteria=stops,
                                  pad_token_id=self.tokenizer.pad_token_id, **sampling)
        results = []
        for row in out[:, prompt_len:]:
            ids = [t for t in row.tolist() if t != self.tokenizer.pad_token_id]
            results.append((self.tokenizer.decode(ids, skip_special_tokens=True), len(ids)))
        return results
