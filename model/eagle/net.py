"""The EAGLE draft network: one decoder layer that predicts the target's next feature.

At net position i the input is (f_i, e(x_{i+1})): the target's feature at position i and the
embedding of the token that follows it, fused by `fc: 2H -> H`. The output approximates f_{i+1};
the target's frozen LM head turns it into a distribution over x_{i+2}. The feature is the LM
head's input (the last hidden state after the final norm, HF index num_hidden_layers), as in
EAGLE's code; for Gemma it is also well scaled, unlike the pre-norm state (std ~1,500).

The decoder layer is transformers' own Llama layer (a one-layer `LlamaModel` fed `inputs_embeds`),
so rotary positions, 4-D tree masks and the KV cache come from the library. Only `fc` and that
layer are trained and saved; the embedding and the LM head rows (all, or the reduced draft
vocabulary's) are taken from the target when the net is built.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import DynamicCache, LlamaConfig, LlamaModel

from model.sd.vocab import DraftVocab

CONFIG_NAME = "eagle_config.json"
WEIGHTS_NAME = "eagle.safetensors"


@dataclass(frozen=True)
class EagleShape:
    hidden_size: int  # the target's H
    feature_layer: int  # target hidden_states index the net reads (num_hidden_layers: the LM head's input)
    heads: int = 8
    kv_heads: int = 8
    intermediate_size: int = 1728
    layers: int = 1
    rope_theta: float = 10000.0
    max_positions: int = 32768

    def llama_config(self) -> LlamaConfig:
        return LlamaConfig(vocab_size=1, hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
                           num_hidden_layers=self.layers, num_attention_heads=self.heads, num_key_value_heads=self.kv_heads,
                           max_position_embeddings=self.max_positions, rope_theta=self.rope_theta,
                           pad_token_id=None, attn_implementation="sdpa")


class EagleNet(nn.Module):
    """fc(2H -> H) + decoder layer(s); `head` (K, H) and `embed` are the target's, frozen and not saved."""

    def __init__(self, shape: EagleShape, embed: nn.Module, head: torch.Tensor, vocab: DraftVocab | None = None):
        super().__init__()
        self.shape, self.vocab = shape, vocab
        self.fc = nn.Linear(2 * shape.hidden_size, shape.hidden_size)
        self.decoder = LlamaModel(shape.llama_config())
        self.decoder.embed_tokens.requires_grad_(False)  # unused: the decoder is fed inputs_embeds
        self._frozen = {"embed": embed}  # a plain dict keeps the target's table out of parameters and state_dict
        self.register_buffer("head", head.detach(), persistent=False)

    @property
    def embed(self) -> nn.Module:
        return self._frozen["embed"]

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """Target embeddings (as the target scales them) of target-vocabulary ids, in the net's dtype."""
        with torch.no_grad():
            return self.embed(ids.to(self.embed.weight.device)).to(self.fc.weight.device, self.fc.weight.dtype)

    def forward(
        self,
        features: torch.Tensor,  # (B, T, H) target (or predicted) features f_i
        next_embeds: torch.Tensor,  # (B, T, H) embeddings of x_{i+1}
        position_ids: torch.Tensor | None = None,  # (B, T)
        attention_mask: torch.Tensor | None = None,  # (B, T) padding or (B, 1, T, K) additive
        cache: DynamicCache | None = None,
    ) -> torch.Tensor:
        """Predicted next features (B, T, H)."""
        fused = self.fc(torch.cat([features.to(self.fc.weight.dtype), next_embeds], dim=-1))  # (B, T, H)
        out = self.decoder(inputs_embeds=fused, position_ids=position_ids, attention_mask=attention_mask,
                           past_key_values=cache, use_cache=cache is not None)
        return out.last_hidden_state

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Draft logits (..., K) over the draft vocabulary (K = head rows; no 'unknown' row, so never proposed)."""
        return features.to(self.head.dtype) @ self.head.T

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().contiguous() for k, v in self.state_dict().items() if not k.startswith("decoder.embed_tokens")}
        save_file(weights, str(folder / WEIGHTS_NAME))
        (folder / CONFIG_NAME).write_text(json.dumps(asdict(self.shape), indent=1))
        if self.vocab is not None:
            self.vocab.save(folder)


def target_parts(target_model, vocab: DraftVocab | None, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, torch.Tensor]:
    """The target's embedding module and its LM head rows for the draft vocabulary (all rows without one)."""
    weight = target_model.get_output_embeddings().weight
    if vocab is None:
        return target_model.get_input_embeddings(), weight.detach()  # a view: 262k rows are not copied
    return target_model.get_input_embeddings(), weight.detach()[vocab.to_target.to(weight.device)].to(dtype)


def new_net(target_model, vocab: DraftVocab | None = None, **shape_args) -> EagleNet:
    """A randomly initialised net sized for `target_model` (training starts here; tests use it untrained)."""
    config = target_model.config.get_text_config()
    shape_args.setdefault("rope_theta", getattr(config, "rope_theta", None) or 10000.0)
    shape = EagleShape(hidden_size=config.hidden_size, feature_layer=config.num_hidden_layers, **shape_args)
    embed, head = target_parts(target_model, vocab)
    return EagleNet(shape, embed, head, vocab)


def load_net(folder: str | Path, target_model) -> EagleNet:
    """A trained net from `folder`, wired to `target_model`'s embedding and LM head."""
    folder = Path(folder)
    if not (folder / CONFIG_NAME).exists():
        raise FileNotFoundError(f"{folder} holds no {CONFIG_NAME}: not an EAGLE head (train one with scripts/train/eagle.sh)")
    shape = EagleShape(**json.loads((folder / CONFIG_NAME).read_text()))
    config = target_model.config.get_text_config()
    if shape.hidden_size != config.hidden_size:
        raise ValueError(f"{folder} was trained for hidden size {shape.hidden_size}, the target has {config.hidden_size}")
    vocab = DraftVocab.load(folder)
    if vocab is not None and vocab.target_vocab_size != target_model.get_output_embeddings().weight.shape[0]:
        raise ValueError(f"{folder}'s draft vocabulary maps into {vocab.target_vocab_size} target ids; "
                         f"the target has {target_model.get_output_embeddings().weight.shape[0]}")
    embed, head = target_parts(target_model, vocab)
    net = EagleNet(shape, embed, head, vocab)
    missing, unexpected = net.load_state_dict(load_file(str(folder / WEIGHTS_NAME)), strict=False)
    missing = [k for k in missing if not k.startswith("decoder.embed_tokens")]
    if missing or unexpected:
        raise ValueError(f"{folder / WEIGHTS_NAME}: missing {missing}, unexpected {unexpected}")
    return net.eval()
