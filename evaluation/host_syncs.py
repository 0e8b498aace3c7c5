"""Host syncs per target forward, method by method: the GPU path's budget, counted on any device.

On a GPU, every read of a device value (`.item()`, `.tolist()`, `int()/float()/bool()` of a tensor, `.cpu()`,
`.numpy()`) and every tensor built from Python data (`torch.tensor(list, device=cuda)`) makes the host wait
until the GPU is idle; a 7B step is ~20-30 ms, so a few dozen of them per step erase a method's speedup. The
counter intercepts exactly these calls with a TorchFunctionMode, so CPU-only CI counts what a GPU would pay
(copies by `.to(device)` and `torch.from_numpy` are not seen; the loop uses neither on host data).

    python -m evaluation.host_syncs [--target gemma-3-270m] [--max-new-tokens 128] [--per-language 1] [--limit N]

prints syncs per target forward for every method, greedy and sampling, with untrained heads (the tree shapes,
not the heads' quality, decide the count). Budget: SYNC_BUDGET per forward, plus one per draft level for
trees grown with --min-path-prob (their one read of a count per level).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from torch.overrides import TorchFunctionMode

from model.common.accept import AcceptConfig
from model.common.loop import Drafter, GenerationConfig, generate
from model.common.target import Target
from model.registry import METHODS, build_drafter
from multispec.options import add_generation_options, add_target_options

SYNC_BUDGET = 4  # host syncs per target forward, every method, greedy and sampling

_READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__int__, torch.Tensor.__float__,
          torch.Tensor.__index__, torch.Tensor.cpu, torch.Tensor.numpy}
_BUILDS = {torch.tensor, torch.as_tensor}


class HostSyncCounter(TorchFunctionMode):
    """Counts device-to-host reads and tensors built from Python data while active."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.builds = 0

    @property
    def total(self) -> int:
        return self.reads + self.builds

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _READS:
            self.reads += 1
        elif func in _BUILDS and args and not isinstance(args[0], torch.Tensor) and _has_data(args[0]):
            self.builds += 1
        return func(*args, **(kwargs or {}))


def _has_data(data: Any) -> bool:
    """An empty list copies nothing (the KV cache's lazy initialisation builds one per layer, once)."""
    return not (isinstance(data, (list, tuple)) and len(data) == 0)


def untrained_heads(target_model, folder: str | Path) -> dict[str, dict[str, Any]]:
    """Options of every head method with a randomly initialised head saved under `folder` (the methods' own
    default trees: the shapes a GPU user runs)."""
    from model.ctc.net import new_net as new_ctc
    from model.eagle import net3
    from model.eagle.net import new_net as new_eagle
    from model.hydra.net import new_net as new_hydra
    from model.medusa.net import new_net as new_medusa

    folder = Path(folder)
    layers = target_model.config.get_text_config().num_hidden_layers
    fused = None if layers >= 7 else (0, 1, 2)  # EAGLE-3's own taps need 7 layers; tiny test targets have fewer
    makers = {"eagle": new_eagle, "eagle3": lambda model: net3.new_net(model, feature_layers=fused), "medusa": new_medusa, "hydra": new_hydra, "ctc": new_ctc}
    for name, make in makers.items():
        if not (folder / name).exists():
            make(target_model).save(folder / name)
    return {"eagle": {"head": str(folder / "eagle")}, "eagle2": {"head": str(folder / "eagle")},
            "eagle3": {"head": str(folder / "eagle3")}, "medusa": {"head": str(folder / "medusa")},
            "hydra": {"head": str(folder / "hydra")}, "ctc": {"head": str(folder / "ctc")}}


def count_syncs(target: Target, make_drafter: Callable[[], Drafter], prompts: list[list[int]], cfg: GenerationConfig,
                generator: torch.Generator | None = None) -> dict[str, float]:
    """Decode `prompts` (drafter built outside the count) and return forwards, syncs and syncs per forward."""
    drafter = make_drafter()
    forwards = 0
    with HostSyncCounter() as counter:
        for ids in prompts:
            forwards += generate(ids, target, drafter, cfg, generator=generator).steps
    return {"forwards": forwards, "syncs": counter.total, "per_forward": counter.total / max(forwards, 1)}


def main(argv: list[str] | None = None) -> None:
    from data_processing.sample_sentences import sample_prompts
    from evaluation.tables import dict_table
    from model.common.zoo import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_target_options(parser)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--per-language", type=int, default=1, help="prompts per language")
    parser.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    parser.add_argument("--methods", nargs="+", default=sorted(METHODS), choices=sorted(METHODS))
    args = parser.parse_args(argv)

    model, tokenizer = load_model(args.target, dtype=args.dtype, device=args.device)
    target = Target(model)
    prompts = [tokenizer(p).input_ids for _, p in sample_prompts(args.per_language)][: args.limit]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        options = {**untrained_heads(model, folder), "sd": {"drafter": args.target}}  # sd: the target drafts itself
        for method in args.methods:
            row: dict[str, Any] = {"method": method}
            for label, accept in (("greedy", AcceptConfig()), ("sampling", AcceptConfig(temperature=0.7))):
                generator = torch.Generator(target.device).manual_seed(0)
                cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, accept=accept,
                                       eos_token_ids=(tokenizer.eos_token_id,))
                make = lambda: build_drafter(method, target, options.get(method), tokenizer=tokenizer,  # noqa: E731
                                             accept=accept, generator=generator)
                counted = count_syncs(target, make, prompts, cfg, generator)
                row[f"{label}_syncs_per_forward"] = round(counted["per_forward"], 2)
                row[f"{label}_forwards"] = counted["forwards"]
            rows.append(row)
            print(f"[multispec] {method}: {row}", flush=True)
    print(f"\n## Host syncs per target forward ({args.target} on {target.device}, {target.dtype}, "
          f"{len(prompts)} prompts, budget {SYNC_BUDGET})")
    print(dict_table(rows))


if __name__ == "__main__":
    main()
