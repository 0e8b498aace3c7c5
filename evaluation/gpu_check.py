"""The prepared GPU check: every method on the embedded target on one GPU, in one summary table (minutes).

    bash scripts/gpu_check.sh            # = python -m evaluation.gpu_check [--per-language 1] [--max-new-tokens 128]

Per method (heads untrained: shapes, syncs and losslessness do not depend on their quality), float32:
  lossless      greedy tokens identical to `ar`'s on the same prompts
  syncs/fwd     host syncs per target forward counted by evaluation.host_syncs (budget SYNC_BUDGET)
  cuda_syncs    synchronizing CUDA calls per target forward, as torch.cuda.set_sync_debug_mode("warn") reports them
  overhead      share of wall time outside the target's forwards and the drafter (the loop's own cost)
  tok/s, MAT    throughput and mean accepted tokens
Without a GPU it runs on the CPU (no CUDA sync column), so the script itself is tested everywhere.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import warnings
from typing import Any

import torch

from evaluation.host_syncs import SYNC_BUDGET, count_syncs, untrained_heads
from model.common.accept import AcceptConfig
from model.common.device import synchronize
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.registry import METHODS, build_drafter
from multispec.options import add_generation_options, add_target_options


def cuda_syncs(target: Target, drafter, prompts: list[list[int]], cfg: GenerationConfig) -> float:
    """Synchronizing CUDA calls per target forward, from the sync debug mode's warnings."""
    forwards = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for ids in prompts:
                forwards += generate(ids, target, drafter, cfg).steps
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught) / max(forwards, 1)


def check_method(method: str, target: Target, options: dict[str, Any], prompts: list[list[int]], cfg: GenerationConfig,
                 reference: list[list[int]] | None) -> dict[str, Any]:
    make = lambda: build_drafter(method, target, options, accept=cfg.accept)  # noqa: E731
    drafter = make()
    generate(prompts[0], target, drafter, cfg)  # warm-up: kernels, allocator
    synchronize(target.device)
    start = time.perf_counter()
    outs = [generate(ids, target, drafter, cfg) for ids in prompts]
    synchronize(target.device)
    wall = time.perf_counter() - start
    profiled = [generate(ids, target, drafter, dataclasses.replace(cfg, profile=True)) for ids in prompts]
    inside = sum(g.stats.forward_time + g.stats.draft_time for g in profiled)
    steps = sum(len(g.stats.accept_lengths) for g in outs)
    row = {
        "method": method,
        "lossless": "-" if reference is None else ("yes" if [g.tokens for g in outs] == reference else "NO"),
        "syncs_per_forward": round(count_syncs(target, make, prompts, cfg)["per_forward"], 2),
        "cuda_syncs_per_forward": round(cuda_syncs(target, drafter, prompts, cfg), 2) if target.device.type == "cuda" else "-",
        "overhead_share": round(1 - inside / sum(g.wall_time for g in profiled), 3),
        "tokens_per_s": round(sum(len(g.tokens) for g in outs) / wall, 1),
        "mat": round(sum(len(g.tokens) for g in outs) / steps, 2),
    }
    return row


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    from data_processing.sample_sentences import sample_prompts
    from evaluation.tables import dict_table
    from model.common.zoo import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_target_options(parser, dtype=False)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--per-language", type=int, default=1, help="prompts per language")
    parser.add_argument("--methods", nargs="+", default=sorted(METHODS), choices=sorted(METHODS))
    args = parser.parse_args(argv)

    model, tokenizer = load_model(args.target, dtype="float32", device=args.device)  # float32: exact lossless checks
    target = Target(model)
    if target.device.type != "cuda":
        print("[multispec] no CUDA device: running on the CPU, without the CUDA sync column", flush=True)
    prompts = [tokenizer(p).input_ids for _, p in sample_prompts(args.per_language)]
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, accept=AcceptConfig(), eos_token_ids=(tokenizer.eos_token_id,))
    with tempfile.TemporaryDirectory() as folder:
        options = {**untrained_heads(model, folder), "sd": {"drafter": args.target}}  # sd: the target drafts itself
        reference = [generate(ids, target, build_drafter("ar", target, None, accept=cfg.accept), cfg).tokens for ids in prompts]
        rows = []
        for method in args.methods:
            rows.append(check_method(method, target, options.get(method), prompts, cfg, reference))
            print(f"[multispec] {rows[-1]}", flush=True)
    name = torch.cuda.get_device_name(target.device) if target.device.type == "cuda" else "CPU"
    print(f"\n## GPU check: {args.target} on {name} ({target.dtype}, {len(prompts)} prompts, "
          f"{args.max_new_tokens} new tokens, untrained heads; sync budget {SYNC_BUDGET} per forward)")
    print(dict_table(rows))
    failed = [r["method"] for r in rows if r["lossless"] == "NO" or r["syncs_per_forward"] > SYNC_BUDGET]
    if failed:
        raise SystemExit(f"[multispec] GPU check failed for: {', '.join(failed)}")
    return rows


if __name__ == "__main__":
    main()
