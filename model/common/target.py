"""The target model: prefill, verify a draft chain or tree in ONE forward, keep only the accepted path.

The KV cache is a plain DynamicCache built without the model config, so sliding-window layers keep
every entry: a rejected draft can then be dropped without losing context the window evicted.
The window is enforced by the attention masks instead (by position, per layer type), which the
model builds itself for chains and we build for trees.
"""
from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel

from model.common.accept import AcceptConfig, greedy_walk, pick_next, speculative_walk, typical_walk, warp
from model.common.state import DecodeState, Verdict
from model.common.tree import Draft, ancestor_matrix, block_attention

SUPPORTED_LAYER_TYPES = {"full_attention", "sliding_attention"}


class Target:
    """Wraps a HF causal LM for speculative verification (batch size 1)."""

    def __init__(self, model: PreTrainedModel):
        self.model = model.eval()
        config = model.config.get_text_config()
        layer_types = getattr(config, "layer_types", None)
        self.layer_types = sorted(set(layer_types)) if layer_types else None
        if self.layer_types and not set(self.layer_types) <= SUPPORTED_LAYER_TYPES:
            raise ValueError(f"unsupported attention layer types {self.layer_types}; supported: {SUPPORTED_LAYER_TYPES}")
        has_sliding = bool(self.layer_types) and "sliding_attention" in self.layer_types
        self.window: int | None = getattr(config, "sliding_window", None) if has_sliding else None
        self.vocab_size = model.config.get_text_config().vocab_size  # the LM head's rows (an int8 head has no .weight tensor)

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    def _forward(
        self,
        state_cache: DynamicCache,
        ids: list[int],
        positions: torch.Tensor,
        mask: torch.Tensor | dict[str, torch.Tensor] | None,
        hidden_layers: tuple[int, ...],
        logits_to_keep: int = 0,
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Run the model on new tokens; returns logits (T, V) float32 and tapped hidden states (T, H)."""
        out = self.model(
            input_ids=torch.tensor([ids], device=self.device),
            position_ids=positions[None],
            attention_mask=mask,
            past_key_values=state_cache,
            use_cache=True,
            output_hidden_states=list(hidden_layers) if hidden_layers else None,
            logits_to_keep=logits_to_keep,
        )
        hidden = {layer: out.hidden_states[layer][0] for layer in hidden_layers}
        return out.logits[0].float(), hidden

    def _tree_mask(self, prefix_len: int, positions: torch.Tensor, draft: Draft) -> torch.Tensor | dict[str, torch.Tensor]:
        seen = ancestor_matrix(draft.parents).to(self.device)
        full = block_attention(prefix_len, positions, seen, None, self.dtype)
        if self.layer_types is None:
            return full
        masks = {"full_attention": full}
        if self.window is not None:
            masks["sliding_attention"] = block_attention(prefix_len, positions, seen, self.window, self.dtype)
        return masks

    @torch.inference_mode()
    def prefill(
        self,
        prompt_ids: list[int],
        accept: AcceptConfig,
        hidden_layers: tuple[int, ...] = (),
        generator: torch.Generator | None = None,
    ) -> DecodeState:
        """Feed the prompt, choose the first new token; the state's cache then holds the whole prompt."""
        if not prompt_ids:
            raise ValueError("empty prompt: at least one token (e.g. BOS) is needed")
        cache = DynamicCache()
        positions = torch.arange(len(prompt_ids), device=self.device)
        logits, hidden = self._forward(cache, prompt_ids, positions, None, hidden_layers, logits_to_keep=1)
        first = pick_next(logits[-1], accept, generator)
        state = DecodeState(tokens=list(prompt_ids) + [first], prompt_len=len(prompt_ids), cache=cache, hidden=hidden)
        state.stats.record(1, 0)
        return state

    @torch.inference_mode()
    def forward_draft(
        self, state: DecodeState, draft: Draft, hidden_layers: tuple[int, ...] = ()
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Logits (N+1, V) and taps for [pending token] + draft nodes; appends all N+1 to the cache."""
        prefix_len = state.cached_len
        ids = [state.tokens[-1]] + draft.tokens
        if draft.is_chain():
            positions = torch.arange(prefix_len, prefix_len + len(ids), device=self.device)
            mask = None  # causal (and windowed) masks built by the model itself are exact for a chain
        else:
            depths = torch.tensor([0] + draft.depths(), device=self.device)
            positions = prefix_len + depths
            mask = self._tree_mask(prefix_len, positions, draft)
        return self._forward(state.cache, ids, positions, mask, hidden_layers)

    @torch.inference_mode()
    def verify(
        self,
        state: DecodeState,
        draft: Draft,
        accept: AcceptConfig,
        hidden_layers: tuple[int, ...] = (),
        generator: torch.Generator | None = None,
        node_argmax: bool = False,
    ) -> Verdict:
        """One forward over [pending token] + draft nodes, the accept rule, and the KV commit of the accepted path."""
        prefix_len = state.cached_len
        logits, hidden = self.forward_draft(state, draft, hidden_layers)
        best = logits.argmax(dim=-1).tolist() if accept.greedy or node_argmax else None
        if accept.greedy:
            path, bonus = greedy_walk(draft, best)
        elif accept.typical:
            path, bonus = typical_walk(draft, warp(logits, accept), accept)
        else:
            path, bonus = speculative_walk(draft, warp(logits, accept), generator)
        keep = [0] + [node + 1 for node in path]  # block rows to keep: the root and the accepted nodes
        keep_in_cache(state.cache, prefix_len, keep)
        return Verdict(
            accepted=path,
            tokens=[draft.tokens[n] for n in path] + [bonus],
            draft_size=len(draft),
            hidden={layer: h[keep] for layer, h in hidden.items()},
            node_argmax=best if node_argmax else None,
        )


def truncate_cache(cache: DynamicCache, length: int) -> None:
    """Keep the first `length` positions of every layer (a view: no copy)."""
    for layer in cache.layers:
        layer.keys = layer.keys[..., :length, :]
        layer.values = layer.values[..., :length, :]


def keep_in_cache(cache: DynamicCache, prefix_len: int, keep: list[int]) -> None:
    """Drop the verified block's rejected entries: keep cache[:prefix_len] + block rows `keep`, in order."""
    if keep == list(range(len(keep))):  # a chain prefix: a slice
        truncate_cache(cache, prefix_len + len(keep))
        return
    index = torch.tensor(keep, device=cache.layers[0].keys.device) + prefix_len
    for layer in cache.layers:
        layer.keys = torch.cat([layer.keys[..., :prefix_len, :], layer.keys.index_select(2, index)], dim=2)
        layer.values = torch.cat([layer.values[..., :prefix_len, :], layer.values.index_select(2, index)], dim=2)
