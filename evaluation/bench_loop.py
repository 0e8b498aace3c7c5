"""Benchmark of the shared loop on the embedded target (the spine's numbers; not a test).

Side by side in one run, on the same prompts:
  1. our `ar` vs HF `generate` greedy (tokens/s ratio; goal >= 1.0), and our `pld` vs HF prompt lookup;
  2. loop overhead per step: wall time outside the target's model forwards and the drafter;
  3. target forward time vs number of verified tokens (chain and tree masks), which bounds every speedup.
Per-language speedups come from evaluation.run + evaluation.speed (scripts/main.sh).

    python -m evaluation.bench_loop [--target gemma-3-270m] [--max-new-tokens 128] [--per-language 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from data_processing.sample_sentences import sample_prompts
from evaluation.compare_hf import build_engines, compare, summarize
from evaluation.tables import dict_table
from model.common.accept import AcceptConfig
from model.common.device import synchronize
from model.common.loop import GenerationConfig
from model.common.target import Target
from model.common.tree import Draft
from model.common.zoo import load_model
from multispec.options import add_generation_options, add_target_options


def forward_cost_curve(target: Target, context: list[int], sizes: list[int], repeats: int = 5) -> list[dict]:
    """Median time of one verification forward of n draft tokens, as a chain and as a binary tree."""
    rows = []
    for n in sizes:
        row = {"verified_tokens": n + 1}
        for shape in ("chain", "tree"):
            parents = list(range(-1, n - 1)) if shape == "chain" else [(i - 1) // 2 for i in range(n)]
            draft = Draft([5] * n, parents)
            times = []
            for _ in range(repeats):
                state = target.prefill(context, AcceptConfig())
                synchronize(target.device)
                start = time.perf_counter()
                target.forward_draft(state, draft)
                synchronize(target.device)
                times.append(time.perf_counter() - start)
            row[f"{shape}_ms"] = 1000 * statistics.median(times)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_target_options(parser, device=False)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--per-language", type=int, default=3, help="prompts per language")
    parser.add_argument("--out", default="outputs/bench_loop.json")
    args = parser.parse_args(argv)

    model, tokenizer = load_model(args.target, dtype=args.dtype)
    target = Target(model)
    prompts = [tokenizer(p).input_ids for _, p in sample_prompts(args.per_language)]
    print(f"target {args.target} on {target.device} in {target.dtype}, {torch.get_num_threads()} threads, "
          f"{len(prompts)} prompts", flush=True)

    # no stop strings: long outputs make per-step costs dominate over prefill
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, eos_token_ids=(tokenizer.eos_token_id,))
    engines = build_engines(target, tokenizer, ["ar", "pld"])
    for _ in range(3):  # warm-up on the first prompt, discarded
        compare(engines, [(prompts[0], cfg)])
    vs_hf = summarize(compare(engines, [(ids, cfg) for ids in prompts]), ["ar", "pld"])
    curve = forward_cost_curve(target, prompts[0] * 4, [0, 1, 3, 7, 15, 31, 63])

    print("\n## Our loop vs HF generate (same prompts, engine order rotating, no stop strings)")
    print(dict_table(vs_hf))
    print(f"\n## Target forward time vs verified tokens (context of {len(prompts[0]) * 4} tokens, median of 5)")
    print(dict_table(curve))
    report = {"target": args.target, "device": str(target.device), "dtype": str(target.dtype),
              "threads": torch.get_num_threads(), "torch": torch.__version__, "vs_hf": vs_hf, "forward_cost": curve}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
