"""The target model: prefill, verify a draft chain or tree in ONE forward, keep only the accepted path.

The KV cache is a plain DynamicCache built without the model config, so sliding-window layers keep
every entry: a rejected draft can then be dropped without losing context the window evicted.
The window is enforced by the attention masks instead (by position, per layer type), which the
model builds itself for chains and we build for trees.
"""
from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel

from model.common.accept import AcceptConfig, accept_on_device, greedy_tokens, pick_next, speculative_walk, warp
from model.common.device import pick_draft_dtype
from model.common.state import DecodeState, Verdict
from model.common.tree import Draft, ancestors, block_attention

SUPPORTED_LAYER_TYPES = {"full_attention", "sliding_attention"}
MASKLESS_ATTENTION = {"flash_attention_2", "flash_attention_3"}  # kernels that take no 4-D mask (a tree's)


class Target:
    """Wraps a HF causal LM for speculative verification (batch size 1)."""

    def __init__(self, model: PreTrainedModel, draft_dtype: str = "auto"):
        """`draft_dtype`: what drafters and heads compute in (model.common.device.pick_draft_dtype)."""
        self.model = model.eval()
        self.draft_dtype = pick_draft_dtype(model.dtype, model.device, draft_dtype)
        config = model.config.get_text_config()
        layer_types = getattr(config, "layer_types", None)
        self.layer_types = sorted(set(layer_types)) if layer_types else None
        if self.layer_types and not set(self.layer_types) <= SUPPORTED_LAYER_TYPES:
            raise ValueError(f"unsupported attention layer types {self.layer_types}; supported: {SUPPORTED_LAYER_TYPES}")
        has_sliding = bool(self.layer_types) and "sliding_attention" in self.layer_types
        self.window: int | None = getattr(config, "sliding_window", None) if has_sliding else None
        self.vocab_size = model.config.get_text_config().vocab_size  # the LM head's rows (an int8 head has no .weight tensor)
        self.attn_implementation = getattr(model.config, "_attn_implementation", None)

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def output_device(self) -> torch.device:
        """Where logits come out (the LM head's device: the last of several under a device map); sampling
        generators live here."""
        head = self.model.get_output_embeddings()
        weight = getattr(head, "weight", None)
        return weight.device if isinstance(weight, torch.Tensor) else self.device

    @property
    def input_device(self) -> torch.device:
        """Where input ids go: the embedding's device (the first of several under a device map)."""
        return self.model.get_input_embeddings().weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    def _forward(
        self,
        state_cache: DynamicCache,
        ids: torch.Tensor,
        positions: torch.Tensor,
        mask: torch.Tensor | dict[str, torch.Tensor] | None,
        hidden_layers: tuple[int, ...],
        logits_to_keep: int = 0,
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Run the model on new tokens; returns logits (T, V) in the model's dtype (`warp` casts what it samples
        from; a float32 copy of 61 x 262k logits costs ~30 ms on a CPU) and tapped hidden states (T, H)."""
        out = self.model(
            input_ids=ids[None],
            position_ids=positions[None],
            attention_mask=mask,
            past_key_values=state_cache,
            use_cache=True,
            output_hidden_states=list(hidden_layers) if hidden_layers else None,
            logits_to_keep=logits_to_keep,
        )
        hidden = {layer: out.hidden_states[layer][0] for layer in hidden_layers}
        return out.logits[0], hidden

    def _tree_mask(self, prefix_len: int, positions: torch.Tensor, seen: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
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
        positions = torch.arange(len(prompt_ids), device=self.input_device)
        ids = torch.tensor(prompt_ids, device=self.input_device)
        logits, hidden = self._forward(cache, ids, positions, None, hidden_layers, logits_to_keep=1)
        first = pick_next(logits[-1], accept, generator)
        state = DecodeState(tokens=list(prompt_ids) + [first], prompt_len=len(prompt_ids), cache=cache, hidden=hidden)
        state.stats.record(1, 0)
        return state

    def _draft_tensors(self, state: DecodeState, draft: Draft) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """ids (N+1,) [pending token] + draft tokens, and for a tree its parents (N,) and ancestor matrix
        (N+1, N+1), on the device from ONE host-to-device copy; depths and masks are derived there."""
        if draft.is_chain():
            return torch.tensor([state.tokens[-1], *draft.tokens], device=self.input_device), None, None
        n = len(draft)
        sent = torch.tensor([state.tokens[-1], *draft.tokens, *draft.parents], device=self.input_device)
        parents = sent[n + 1 :]
        return sent[: n + 1], parents, ancestors(parents, max(draft.depths()))

    @torch.inference_mode()
    def forward_draft(
        self, state: DecodeState, draft: Draft, hidden_layers: tuple[int, ...] = ()
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Logits (N+1, V) and taps for [pending token] + draft nodes; appends all N+1 to the cache."""
        ids, _, seen = self._draft_tensors(state, draft)
        return self._forward_block(state, ids, seen, hidden_layers)

    def _forward_block(self, state: DecodeState, ids: torch.Tensor, seen: torch.Tensor | None,
                       hidden_layers: tuple[int, ...]) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        prefix_len = state.cached_len
        if seen is None:  # a chain: causal (and windowed) masks built by the model itself are exact
            positions = torch.arange(prefix_len, prefix_len + ids.shape[0], device=ids.device)
            return self._forward(state.cache, ids, positions, None, hidden_layers)
        if self.attn_implementation in MASKLESS_ATTENTION:
            raise ValueError(f"tree drafts need 4-D attention masks, which {self.attn_implementation} cannot read: "
                             f"load the target with --attn-implementation sdpa (or eager), or use a chain method")
        positions = prefix_len + seen.sum(dim=1) - 1  # each node's depth below the cached prefix
        return self._forward(state.cache, ids, positions, self._tree_mask(prefix_len, positions, seen), hidden_layers)

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
        """One forward over [pending token] + draft nodes, the accept rule, and the KV commit of the accepted path.

        On a GPU the host waits for the device once here: the accepted path, the bonus token (and the argmax at
        every node when asked) come back in one read."""
        prefix_len = state.cached_len
        ids, parents, seen = self._draft_tensors(state, draft)
        logits, hidden = self._forward_block(state, ids, seen, hidden_layers)
        sampled_nodes = draft.probs is not None and any(q is not None for q in draft.probs)
        if sampled_nodes and not draft.is_chain() and not accept.greedy and not accept.typical:
            return self._verify_sampled_tree(state, draft, accept, logits, hidden, generator, node_argmax)
        on_logits = [None if t is None else t.to(logits.device) for t in (ids, parents, seen)]
        walk = accept_on_device(*on_logits, logits, draft.probs, accept, generator)
        depth = len(draft) if draft.is_chain() else max(draft.depths(), default=0)
        argmax = [greedy_tokens(logits)] if node_argmax else []
        read = torch.cat([walk.n.view(1), walk.bonus.view(1), walk.bad_draft.long().view(1), walk.order[:depth], *argmax]).tolist()
        n, bonus, bad = read[0], read[1], read[2]
        if bad:
            raise ValueError("a draft node carries a token with draft probability 0: the drafter did not sample it from q")
        path = read[3 : 3 + n]
        rows = torch.cat([walk.order.new_zeros(1), walk.order[:n] + 1])  # block rows kept: the root and the path
        keep_in_cache(state.cache, prefix_len, path, rows)
        return Verdict(
            accepted=path,
            tokens=[draft.tokens[node] for node in path] + [bonus],
            draft_size=len(draft),
            hidden={layer: _take_rows(h, path, rows) for layer, h in hidden.items()},
            node_argmax=read[3 + depth :] if node_argmax else None,
            token_ids=torch.cat([ids[1:].to(rows.device)[rows[1:] - 1], walk.bonus.view(1)]),
        )

    def _verify_sampled_tree(self, state, draft, accept, logits, hidden, generator, node_argmax) -> Verdict:
        """Recursive rejection over a tree whose nodes carry draft distributions, walked on the host (test drafters
        only: no shipped method samples trees)."""
        prefix_len = state.cached_len
        path, bonus = speculative_walk(draft, warp(logits, accept), generator)
        rows = torch.tensor([0] + [node + 1 for node in path], device=logits.device)
        keep_in_cache(state.cache, prefix_len, path, rows)
        tokens = [draft.tokens[n] for n in path] + [bonus]
        return Verdict(
            accepted=path,
            tokens=tokens,
            draft_size=len(draft),
            hidden={layer: _take_rows(h, path, rows) for layer, h in hidden.items()},
            node_argmax=greedy_tokens(logits).tolist() if node_argmax else None,
            token_ids=torch.tensor(tokens, device=logits.device),
        )


def _is_prefix(path: list[int]) -> bool:
    return path == list(range(len(path)))


def _take_rows(h: torch.Tensor, path: list[int], rows: torch.Tensor) -> torch.Tensor:
    """Features of the root and the accepted nodes, (len(path) + 1, H), on h's own device."""
    return h[: len(path) + 1] if _is_prefix(path) else h[rows.to(h.device)]


def truncate_cache(cache: DynamicCache, length: int) -> None:
    """Keep the first `length` positions of every layer (a view: no copy)."""
    for layer in cache.layers:
        layer.keys = layer.keys[..., :length, :]
        layer.values = layer.values[..., :length, :]


def keep_in_cache(cache: DynamicCache, prefix_len: int, path: list[int], rows: torch.Tensor) -> None:
    """Drop the verified block's rejected entries: keep cache[:prefix_len] + the block's root and accepted nodes.

    rows: (len(path) + 1,) block rows to keep, in order, on the device (the host knows only `path`); each layer
    takes them on its own device (a model split across GPUs by a device map)."""
    if _is_prefix(path):  # the root and a chain prefix: a slice
        truncate_cache(cache, prefix_len + len(path) + 1)
        return
    on_device: dict[torch.device, torch.Tensor] = {}
    for layer in cache.layers:
        device = layer.keys.device
        if device not in on_device:
            on_device[device] = rows.to(device) + prefix_len
        index = on_device[device]
        layer.keys = torch.cat([layer.keys[..., :prefix_len, :], layer.keys.index_select(2, index)], dim=2)
        layer.values = torch.cat([layer.values[..., :prefix_len, :], layer.values.index_select(2, index)], dim=2)
