"""Published EAGLE draft heads (the layouts of the SafeAILab/EAGLE checkpoints) as EAGLE nets.

EAGLE-2 drafts with EAGLE-1's weights, so one layout serves both; EAGLE-3 heads have their own. A
published head is a folder, or a hub id, holding `config.json` (a Llama config of the draft layer(s),
plus an optional "bias" for fc, default true) and `pytorch_model.bin` or `model.safetensors`.

EAGLE-1 / EAGLE-2:

    embed_tokens.weight                      a copy of the target's embedding: compared, then dropped
    fc.weight (H, 2H), fc.bias               read cat(embedding, feature); our fc reads cat(feature, embedding)
    layers.N.self_attn.{q,k,v,o}_proj.weight, layers.N.mlp.{gate,up,down}_proj.weight,
    layers.N.post_attention_layernorm.weight, layers.N.input_layernorm.weight (absent for N = 0)

Like multispec's own heads it reads the target's last hidden state after the final norm; unlike them it
has no norm before its first attention and none after its last layer (EagleShape input_norm /
output_norm), and its output goes straight into the target's full LM head.

EAGLE-3 (model/eagle/net3.py; tensors named as there):
    fc.weight (H, 3H)                        over the target's hidden states 2, L // 2 and L - 3
    midlayer.{input_layernorm,hidden_norm,post_attention_layernorm}.weight, midlayer.self_attn.{q,k,v}_proj
    (2H wide inputs), midlayer.self_attn.o_proj, midlayer.mlp.{gate,up,down}_proj, norm.weight
    lm_head.weight (D, H)                    its own LM head over a draft vocabulary of D tokens
    d2t (D,)                                 draft id d is target id d + d2t[d]; t2d is its inverse mask
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from model.common.heads import build_and_load, read_weights, target_parts
from model.eagle.net import EagleNet, EagleShape
from model.eagle.net3 import Eagle3Net, Eagle3Shape, default_feature_layers
from model.sd.vocab import DraftVocab

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)  # a buffer older transformers versions saved; recomputed from the config


def is_published(folder: Path) -> bool:
    """A folder in the published layout (and not one of multispec's own head folders)."""
    ours = (folder / "eagle_config.json").exists() or (folder / "eagle3_config.json").exists()
    return (folder / "config.json").exists() and not ours and any((folder / name).exists() for name in WEIGHT_FILES)


def shape_args(config: dict, target_model) -> dict:
    """The EagleShape fields a published head's config.json sets, checked against the target it will draft for."""
    target_config = target_model.config.get_text_config()
    widths = {config.get("hidden_size"), config.get("target_hidden_size", config.get("hidden_size"))}
    if widths != {target_config.hidden_size}:
        raise ValueError(f"the published EAGLE head has hidden size {config.get('hidden_size')}, "
                         f"the target {target_config.hidden_size}: it was trained for another model")
    heads = config["num_attention_heads"]
    return dict(hidden_size=config["hidden_size"], feature_layer=target_config.num_hidden_layers, heads=heads,
                kv_heads=config.get("num_key_value_heads") or heads, intermediate_size=config["intermediate_size"],
                layers=config["num_hidden_layers"], rope_theta=float(config.get("rope_theta", 10000.0)),
                max_positions=config.get("max_position_embeddings", 2048), rms_norm_eps=config.get("rms_norm_eps", 1e-6),
                rope_scaling=config.get("rope_scaling"), head_dim=config.get("head_dim"))


def _check_embedding(published: torch.Tensor, target_model) -> None:
    """The head's copy of the embedding must be the target's own: anything else means another base model."""
    own = target_model.get_input_embeddings().weight.detach()
    if published.shape != own.shape:
        raise ValueError(f"the published EAGLE head embeds {tuple(published.shape)} (vocabulary x hidden), the target "
                         f"{tuple(own.shape)}: it was trained for another model")
    rows = torch.linspace(0, own.shape[0] - 1, steps=min(64, own.shape[0])).long()
    a, b = published[rows].float(), own[rows].float().cpu()
    if (a - b).abs().max() > 1e-2 * b.abs().max():
        raise ValueError("the published EAGLE head's embedding differs from the target's: it was trained for another model")


def our_state_dict(weights: dict[str, torch.Tensor], hidden: int) -> dict[str, torch.Tensor]:
    """Published tensor names -> EagleNet's, with fc's input halves swapped to (feature, embedding)."""
    ours = {}
    for name, tensor in weights.items():
        if name.endswith(IGNORED_SUFFIXES):
            continue
        if name == "fc.weight":
            tensor = torch.cat([tensor[:, hidden:], tensor[:, :hidden]], dim=1)  # (H, 2H): [W_embed | W_feature] swapped
        ours[name if name.startswith("fc.") else f"decoder.{name}"] = tensor
    return ours


def _eagle3_vocab(weights: dict[str, torch.Tensor], target_rows: int) -> DraftVocab | None:
    """The draft vocabulary of d2t (draft id d is target id d + d2t[d]); None where it is the target's own."""
    rows = weights["lm_head.weight"].shape[0]
    to_target = torch.arange(rows) + weights.get("d2t", torch.zeros(rows, dtype=torch.long)).long()
    if int(to_target.max()) >= target_rows or int(to_target.min()) < 0:
        raise ValueError(f"the published EAGLE-3 head drafts target ids up to {int(to_target.max())}, the target has "
                         f"{target_rows}: it was trained for another model")
    if rows == target_rows and bool((to_target == torch.arange(rows)).all()):
        return None
    return DraftVocab(to_target.tolist(), target_rows)


def load_published(folder: Path, target_model) -> EagleNet | Eagle3Net:
    """A published EAGLE-1/2 or EAGLE-3 head, wired to `target_model`'s embedding (and, EAGLE-1/2, its LM head)."""
    config = json.loads((folder / "config.json").read_text())
    args = shape_args(config, target_model)
    weights = read_weights(folder, WEIGHT_FILES)
    if "embed_tokens.weight" in weights:
        _check_embedding(weights.pop("embed_tokens.weight"), target_model)
    if any(name.startswith("midlayer.") for name in weights):  # EAGLE-3
        target_layers = target_model.config.get_text_config().num_hidden_layers
        vocab = _eagle3_vocab(weights, target_model.get_output_embeddings().weight.shape[0])
        shape = Eagle3Shape(**args, feature_layers=default_feature_layers(target_layers), own_lm_head=True)
        make = lambda: Eagle3Net(shape, *target_parts(target_model, vocab), vocab)  # noqa: E731
        ours = {name: tensor for name, tensor in weights.items()
                if name not in ("d2t", "t2d") and not name.endswith(IGNORED_SUFFIXES)}
    else:
        shape = EagleShape(**args, input_norm=False, output_norm=False, fc_bias=bool(config.get("bias", True)))
        make = lambda: EagleNet(shape, *target_parts(target_model, None))  # noqa: E731
        ours = our_state_dict(weights, shape.hidden_size)
    net, missing, unexpected = build_and_load(make, ours)
    missing = [k for k in missing if not k.startswith("decoder.embed_tokens")]
    if missing or unexpected:
        raise ValueError(f"{folder}: not a published EAGLE layout (missing {missing}, unexpected {unexpected})")
    return net.eval()
