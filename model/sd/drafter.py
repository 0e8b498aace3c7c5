"""Draft-model speculation: a small LM with the target's tokenizer proposes a chain of gamma tokens.

The draft model keeps its own KV cache; after each verification it is cut back to the longest
prefix that agrees with the committed tokens, so it never re-reads what it already saw.
Optional adaptive gamma: grow by 2 after a fully accepted draft, shrink by 1 otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel

from model.common.accept import AcceptConfig, draw, greedy_tokens, warp
from model.common.state import DecodeState, Verdict
from model.common.target import truncate_cache
from model.common.tree import Draft
from model.sd.vocab import DraftVocab


@dataclass(frozen=True)
class Config:
    drafter: str = ""  # model name, local folder or hub id of the draft LM
    gamma: int = 5  # draft tokens per step
    adaptive: bool = False  # adapt gamma to the acceptance of the previous step
    max_gamma: int = 16
    quantize: bool = False  # int8 dynamic quantization of the draft LM (CPU)

    def __post_init__(self) -> None:
        if not 1 <= self.gamma <= self.max_gamma:
            raise ValueError(f"need 1 <= gamma <= max_gamma, got gamma={self.gamma}, max_gamma={self.max_gamma}")


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class DraftModelDrafter:
    hidden_layers: tuple[int, ...] = ()

    def __init__(self, model: PreTrainedModel, config: Config, accept: AcceptConfig, generator: torch.Generator | None,
                 vocab: DraftVocab | None = None):
        self.model = model.eval()
        self.config, self.accept, self.generator = config, accept, generator
        self.vocab = vocab  # None: the drafter speaks the target's vocabulary
        self.device = model.get_input_embeddings().weight.device
        if vocab is not None:  # the id maps live on the drafter's device, copied once
            self.to_draft, self.to_target = vocab.to_draft.to(self.device), vocab.to_target.to(self.device)
        self.gamma = config.gamma
        self.cache = DynamicCache()
        self.cached: list[int] = []  # tokens whose keys/values are in self.cache
        self.recent: torch.Tensor | None = None  # the last verdict's tokens on the device: what is left to feed

    def reset(self, state: DecodeState) -> None:
        self.gamma = self.config.gamma
        self.cache = DynamicCache()
        self.cached = []
        self.recent = None

    def _next_logits(self, ids: torch.Tensor) -> torch.Tensor:
        """Draft logits after feeding target-vocabulary `ids` (n,) on the device: over the draft vocabulary without its
        unknown id (never proposed), or over the target's when the drafter has no reduced vocabulary."""
        out = self.model(
            input_ids=(ids if self.vocab is None else self.to_draft[ids])[None],
            past_key_values=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        logits = out.logits[0, -1]
        return logits if self.vocab is None else logits[: self.vocab.unknown]

    def _over_target(self, q: torch.Tensor) -> torch.Tensor:
        """Draft probabilities over the draft vocabulary -> over the target's (0 outside the draft's), as the accept
        rule reads them. Only sampling needs this: a greedy draft maps its one token, since a full-vocabulary row
        per draft token (262k for Gemma) costs ~0.4 ms on a 2-core CPU, a quarter of the shipped drafter's forward."""
        if self.vocab is None:
            return q
        full = torch.zeros(self.vocab.target_vocab_size, device=q.device, dtype=q.dtype)
        full[self.to_target.to(q.device)] = q
        return full

    @torch.inference_mode()
    def propose(self, state: DecodeState) -> Draft:
        """gamma draft tokens, each fed back as a device tensor: the host reads the chain once, at the end."""
        unfed = state.tokens[len(self.cached) :]
        if self.recent is not None and len(unfed) <= self.recent.shape[0]:  # a suffix of the tokens just verified
            ids = self.recent[self.recent.shape[0] - len(unfed) :].to(self.device)
        else:  # after reset: the prompt, from the host
            ids = torch.tensor(unfed, device=self.device)
        logits = self._next_logits(ids)
        self.cached.extend(unfed)
        tokens: list[torch.Tensor] = []
        probs: list[torch.Tensor | None] = []
        for i in range(self.gamma):
            if self.accept.greedy:
                token = greedy_tokens(logits).view(1)
            else:
                q = warp(logits, self.accept)
                on = q if self.generator is None else q.to(self.generator.device)  # the target's output device
                token = draw(on, self.generator)
                probs.append(self._over_target(q))
            tokens.append(token if self.vocab is None else self.to_target[token.to(self.device)])
            if i + 1 < self.gamma:
                logits = self._next_logits(tokens[-1].to(self.device))
        chain = torch.cat(tokens).tolist()
        self.cached.extend(chain[:-1])  # the last draft token was never fed
        return Draft.chain(chain, probs or None)

    def update(self, state: DecodeState, verdict: Verdict) -> None:
        # keep at least one committed token unfed, so the next propose has logits to start from
        self.recent = verdict.token_ids
        keep = min(common_prefix(self.cached, state.tokens), len(state.tokens) - 1)
        truncate_cache(self.cache, keep)
        del self.cached[keep:]
        if self.config.adaptive:
            all_taken = len(verdict.accepted) == verdict.draft_size
            self.gamma = min(self.gamma + 2, self.config.max_gamma) if all_taken else max(1, self.gamma - 1)


def build(target, config: Config, *, tokenizer=None, accept: AcceptConfig, generator=None, **_) -> DraftModelDrafter:
    from model.common.zoo import check_same_tokenizer, load_model, resolve

    if not config.drafter:
        raise ValueError("method 'sd' needs a draft model: pass --drafter NAME_OR_PATH")
    dtype = "float32" if config.quantize else str(target.draft_dtype).removeprefix("torch.")
    model, draft_tokenizer = load_model(config.drafter, dtype=dtype, device=str(target.device))
    if config.quantize:
        from model.common.quantize import int8_dynamic

        model = int8_dynamic(model)
    if tokenizer is not None:
        check_same_tokenizer(tokenizer, draft_tokenizer)
    vocab = DraftVocab.load(resolve(config.drafter))
    check_vocabulary_sizes(model, vocab, target.vocab_size, config.drafter)
    return DraftModelDrafter(model, config, accept, generator, vocab)


def check_vocabulary_sizes(model: PreTrainedModel, vocab: DraftVocab | None, target_vocab: int, name: str) -> None:
    """The drafter must embed every id it is fed and score every id it may propose (else torch fails mid-answer)."""
    from model.common.zoo import TokenizerMismatch

    rows = model.get_input_embeddings().num_embeddings
    outputs = model.get_output_embeddings().out_features if model.get_output_embeddings() is not None else rows
    if vocab is None:
        needed, where = target_vocab, f"the target's vocabulary of {target_vocab} ids"
    else:
        if vocab.target_vocab_size != target_vocab:
            raise TokenizerMismatch(f"drafter {name}: its draft vocabulary maps a target vocabulary of "
                                    f"{vocab.target_vocab_size} ids, this target has {target_vocab}")
        needed, where = vocab.size, f"its reduced draft vocabulary of {vocab.size} ids"
    if rows < needed or outputs < needed:
        raise TokenizerMismatch(f"drafter {name} embeds {rows} and predicts {outputs} token ids, fewer than "
                                f"{where}: it was not made for this target")
