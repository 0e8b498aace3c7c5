"""What every trained draft head (EAGLE, Medusa, Hydra) shares: the target's frozen embedding and LM
head rows, and saving / loading only the trained weights next to a shape file and the draft vocabulary.

A head folder holds `<kind>_config.json` (the net's shape), `<kind>.safetensors` (trained weights
only: the target's embedding and LM head are taken from the target at load time) and, with a
reduced vocabulary, `draft_vocab.json`.
"""
from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from model.sd.vocab import DraftVocab


def target_parts(target_model, vocab: DraftVocab | None, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, torch.Tensor]:
    """The target's embedding module and its LM head rows for the draft vocabulary (all rows without one)."""
    weight = target_model.get_output_embeddings().weight
    if vocab is None:
        return target_model.get_input_embeddings(), weight.detach()  # a view: 262k rows are not copied
    return target_model.get_input_embeddings(), weight.detach()[vocab.to_target.to(weight.device)].to(dtype)


class FrozenTarget(nn.Module):
    """Base for draft heads: `embed_tokens` and `logits` through the target's frozen parts (never saved)."""

    def __init__(self, embed: nn.Module, head: torch.Tensor, vocab: DraftVocab | None):
        super().__init__()
        self.vocab = vocab
        self._frozen = {"embed": embed}  # a plain dict keeps the target's table out of parameters and state_dict
        self.register_buffer("head", head.detach(), persistent=False)
        # draft id -> target id, kept on the head's device (moved with it) so drafting never copies it per step
        self.register_buffer("draft_to_target", None if vocab is None else vocab.to_target.clone(), persistent=False)

    def param_like(self) -> torch.Tensor:
        return next(p for p in self.parameters() if p.requires_grad)

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """Target embeddings (scaled as the target scales them) of target-vocabulary ids, in the head's dtype.

        The lookup runs where the head runs: when the target's table lives elsewhere (training on a GPU from a
        host copy, or a head on another GPU of a device map), a copy is made there once."""
        embed = self._frozen["embed"]
        like = self.param_like()
        if embed.weight.device != like.device:
            local = self._frozen.get("local")
            if local is None or local.weight.device != like.device:
                local = self._frozen["local"] = copy.deepcopy(embed).to(like.device)
            embed = local
        with torch.no_grad():
            return embed(ids.to(embed.weight.device)).to(like.device, like.dtype)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Draft logits (..., K) over the draft vocabulary (no 'unknown' row, so it is never proposed)."""
        return features.to(self.head.dtype) @ self.head.T

    def to_target(self, draft_ids: torch.Tensor) -> torch.Tensor:
        if self.draft_to_target is None:
            return draft_ids
        return self.draft_to_target[draft_ids.to(self.draft_to_target.device)]


def save_head(net: FrozenTarget, folder: str | Path, kind: str, shape: Any, skip: tuple[str, ...] = ()) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().contiguous() for k, v in net.state_dict().items() if not k.startswith(skip)}
    save_file(weights, str(folder / f"{kind}.safetensors"))
    (folder / f"{kind}_config.json").write_text(json.dumps(asdict(shape), indent=1))
    if net.vocab is not None:
        net.vocab.save(folder)


def load_head(folder: str | Path, kind: str, shape_cls: type, make: Callable[..., FrozenTarget], target_model,
              skip: tuple[str, ...] = ()) -> FrozenTarget:
    """make(shape, embed, head, vocab) -> net; the folder's trained weights loaded into it, checked against the target."""
    folder = local_head(folder)
    if not (folder / f"{kind}_config.json").exists():
        raise FileNotFoundError(f"{folder} holds no {kind}_config.json: not a trained {kind} head "
                                f"(train one with scripts/train/{kind}.sh)")
    shape = shape_cls(**json.loads((folder / f"{kind}_config.json").read_text()))
    hidden = target_model.config.get_text_config().hidden_size
    if shape.hidden_size != hidden:
        raise ValueError(f"{folder} was trained for hidden size {shape.hidden_size}, the target has {hidden}")
    vocab = DraftVocab.load(folder)
    rows = target_model.get_output_embeddings().weight.shape[0]
    if vocab is not None and vocab.target_vocab_size != rows:
        raise ValueError(f"{folder}'s draft vocabulary maps into {vocab.target_vocab_size} target ids; the target has {rows}")
    net, missing, unexpected = build_and_load(lambda: make(shape, *target_parts(target_model, vocab), vocab),
                                              load_file(str(folder / f"{kind}.safetensors")))
    missing = [k for k in missing if not k.startswith(skip)]
    if missing or unexpected:
        raise ValueError(f"{folder / f'{kind}.safetensors'}: missing {missing}, unexpected {unexpected}")
    return net.eval()


def build_and_load(make: Callable[[], FrozenTarget], weights: dict[str, torch.Tensor]) -> tuple[FrozenTarget, list[str], list[str]]:
    """The net `make` builds, its trained parameters taken from `weights` without ever being allocated first.

    Parameters are created on the meta device (accelerate's init_empty_weights: buffers such as the target's LM
    head rows and rotary frequencies stay real) and the checkpoint's tensors are assigned in place, so a Medusa
    head for a 128k-vocabulary target never costs GBs of random float32 on the host. Parameters the checkpoint
    lacks (reported as missing, e.g. an unused 1-row table) are then allocated as zeros."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        net = make()
    own = net.state_dict()  # meta tensors: the dtypes the net was built in (a bf16 file must not make it bf16)
    weights = {k: v.to(own[k].dtype) if k in own and v.is_floating_point() else v for k, v in weights.items()}
    missing, unexpected = net.load_state_dict(weights, strict=False, assign=True)
    for name in missing:
        owner, _, leaf = name.rpartition(".")
        module = net.get_submodule(owner) if owner else net
        param = getattr(module, leaf)
        if isinstance(param, nn.Parameter) and param.is_meta:
            setattr(module, leaf, nn.Parameter(torch.zeros(param.shape, dtype=param.dtype), requires_grad=param.requires_grad))
    return net, missing, unexpected


def local_head(name: str | Path) -> Path:
    """A head folder, or the one shipped under a name such as `embedded:de/eagle` (model.common.zoo.shipped_weights)."""
    from model.common.zoo import SHIPPED, shipped_weights

    return shipped_weights(name) if str(name).startswith(SHIPPED) else Path(name).expanduser()


def fetch_head(name: str, files: list[str]) -> Path:
    """A local path as is (or a shipped head by name); a hub id `org/name` downloaded (only `files`) where a hub is
    reachable, for published heads."""
    folder = local_head(name)
    if folder.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        return folder
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, allow_patterns=files))
    except (HfHubHTTPError, HFValidationError, LocalEntryNotFoundError, OSError) as err:
        raise FileNotFoundError(f"head {name!r} is neither a local folder nor a reachable hub repository: {err}") from err


def read_weights(folder: Path, files: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The first of `files` in `folder`: safetensors, or a torch pickle read with weights_only (no code runs)."""
    path = next(folder / name for name in files if (folder / name).exists())
    if path.suffix == ".safetensors":
        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def place(net: FrozenTarget, target) -> FrozenTarget:
    """Trained parts and the LM-head rows on the target's device, in the drafting dtype (`target.draft_dtype`: the
    target's own unless --draft-dtype asks otherwise; bf16 heads drafted faster than float32 ones on a CPU and had
    as many drafts accepted, experiments/draft_dtype). Drafting precision never changes what the target accepts.
    Rotary frequencies stay float32, as they were trained: in bf16 they are off by up to 0.4 %, a
    rotation error that grows with the position.
    """
    for module in net.children():
        frequencies = {name: buf for name, buf in module.named_buffers() if name.endswith("inv_freq")}
        module.to(target.device, target.draft_dtype)
        for name, buf in frequencies.items():
            owner, _, leaf = name.rpartition(".")
            (module.get_submodule(owner) if owner else module).register_buffer(
                leaf, buf.to(target.device, torch.float32), persistent=False)
    net.head = net.head.to(target.device, target.draft_dtype)
    if net.draft_to_target is not None:
        net.draft_to_target = net.draft_to_target.to(target.device)
    return net
