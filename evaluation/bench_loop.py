"""Benchmark of the shared loop on the embedded target (the spine's numbers; not a test).

Side by side in one run, on the same prompts:
  1. our `ar` vs HF `generate` greedy (tokens/s ratio; goal >= 1.0), and our `pld` vs HF prompt lookup;
  2. loop overhead per step: wall time outside the target's and drafter's model forwards;
  3. target forward time vs number of verified tokens (chain and tree masks), which bounds every speedup.
Per-language speedups come from evaluation.run + evaluation.speed (scripts/main.sh).

    python -m evaluation.bench_loop [--target gemma-3-270m] [--max-new-tokens 64] [--per-language 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import torch
from tqdm import tqdm

from data_processing.sample_sentences import sample_prompts
from model.common.accept import AcceptConfig
from model.common.device import synchronize
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.common.tree import Draft
from model.common.zoo import load_model
from model.registry import build_drafter


@contextmanager
def forward_timer(model: torch.nn.Module) -> Iterator[list[float]]:
    """Accumulates wall time spent inside model.forward (hooks; the model code is untouched)."""
    spent = [0.0]
    starts: list[float] = []

    def pre(*_):
        synchronize(model.device)
        starts.append(time.perf_counter())

    def post(*_):
        synchronize(model.device)
        spent[0] += time.perf_counter() - starts.pop()

    handles = [model.register_forward_pre_hook(pre), model.register_forward_hook(post)]
    try:
        yield spent
    finally:
        for h in handles:
            h.remove()


def time_call(fn: Callable[[], int], device: torch.device) -> tuple[float, int]:
    synchronize(device)
    start = time.perf_counter()
    n = fn()
    synchronize(device)
    return time.perf_counter() - start, n


def hf_vs_ours(target: Target, tokenizer, prompts: list[list[int]], max_new: int) -> dict:
    """HF greedy generate, our ar, HF prompt lookup, our pld on each prompt (no stop strings).

    The engines' order rotates from prompt to prompt so that drifts of a noisy machine hit all alike.
    """
    model = target.model
    cfg = GenerationConfig(max_new_tokens=max_new, eos_token_ids=(tokenizer.eos_token_id,), profile=True)
    hf_kwargs = dict(max_new_tokens=max_new, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                     pad_token_id=tokenizer.pad_token_id, top_p=None, top_k=None, temperature=None)
    overhead = {m: {"wall": 0.0, "model": 0.0, "draft": 0.0, "steps": 0} for m in ("ar", "pld")}

    def hf(ids: list[int], **extra) -> tuple[float, int]:
        return time_call(lambda: model.generate(torch.tensor([ids], device=target.device), **hf_kwargs, **extra)
                         .shape[1] - len(ids), target.device)

    def ours(method: str):
        drafter = build_drafter(method, target, {}, accept=cfg.accept)

        def run(ids: list[int]) -> tuple[float, int]:
            with forward_timer(model) as spent:
                gen = generate(ids, target, drafter, cfg, tokenizer)
            o = overhead[method]
            o["wall"], o["model"] = o["wall"] + gen.wall_time, o["model"] + spent[0]
            o["draft"], o["steps"] = o["draft"] + gen.stats.draft_time, o["steps"] + gen.steps
            return gen.wall_time, len(gen.tokens)

        return run

    engines = {"hf_greedy": hf, "ar": ours("ar"), "hf_pld": lambda ids: hf(ids, prompt_lookup_num_tokens=10),
               "pld": ours("pld")}
    names = list(engines)
    totals = {k: [0.0, 0] for k in names}  # seconds, tokens
    for i, ids in enumerate(tqdm(prompts, desc="HF vs ours")):
        for name in names[i % len(names):] + names[: i % len(names)]:
            seconds, tokens = engines[name](ids)
            totals[name][0] += seconds
            totals[name][1] += tokens
    tps = {k: tokens / seconds for k, (seconds, tokens) in totals.items()}
    return {
        "tokens_per_s": tps,
        "ar_over_hf_greedy": tps["ar"] / tps["hf_greedy"],
        "pld_over_hf_pld": tps["pld"] / tps["hf_pld"],
        "overhead": {
            m: {
                "per_step_ms": 1000 * (o["wall"] - o["model"] - o["draft"]) / o["steps"],
                "share_of_step": (o["wall"] - o["model"] - o["draft"]) / o["wall"],
                "target_forward_ms": 1000 * o["model"] / o["steps"],
            }
            for m, o in overhead.items()
        },
    }


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
                seconds, _ = time_call(lambda: target.forward_draft(state, draft)[0].shape[0], target.device)
                times.append(seconds)
            row[f"{shape}_ms"] = 1000 * statistics.median(times)
        rows.append(row)
    return rows


def markdown(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", default="gemma-3-270m")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--per-language", type=int, default=3, help="prompts per language")
    parser.add_argument("--out", default="outputs/bench_loop.json")
    args = parser.parse_args(argv)

    model, tokenizer = load_model(args.target, dtype=args.dtype)
    target = Target(model)
    prompts = [(lang, tokenizer(p).input_ids) for lang, p in sample_prompts(args.per_language)]
    print(f"target {args.target} on {target.device} in {target.dtype}, {torch.get_num_threads()} threads, "
          f"{len(prompts)} prompts", flush=True)

    warm_cfg = GenerationConfig(max_new_tokens=args.max_new_tokens)
    for _ in range(3):  # warm-up on the first prompt, discarded
        for method in ("ar", "pld"):
            generate(prompts[0][1], target, build_drafter(method, target, {}, accept=AcceptConfig()), warm_cfg, tokenizer)
        model.generate(torch.tensor([prompts[0][1]], device=target.device), max_new_tokens=8, do_sample=False)

    report = {
        "target": args.target, "device": str(target.device), "dtype": str(target.dtype),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "hf_vs_ours": hf_vs_ours(target, tokenizer, [ids for _, ids in prompts], args.max_new_tokens),
        "forward_cost": forward_cost_curve(target, prompts[0][1] * 4, [0, 1, 3, 7, 15, 31, 63]),
    }
    hv = report["hf_vs_ours"]
    print("\n## Our loop vs HF generate (same prompts, interleaved, no stop strings)")
    print(markdown([{"engine": k, "tokens_per_s": v} for k, v in hv["tokens_per_s"].items()], ["engine", "tokens_per_s"]))
    print(f"\nar / HF greedy = {hv['ar_over_hf_greedy']:.3f}   pld / HF prompt lookup = {hv['pld_over_hf_pld']:.3f}")
    print("\n## Loop overhead (wall time outside model forwards and drafting)")
    print(markdown([{"method": m, **o} for m, o in hv["overhead"].items()],
                   ["method", "per_step_ms", "share_of_step", "target_forward_ms"]))
    print("\n## Target forward time vs verified tokens (context of ~%d tokens)" % (len(prompts[0][1]) * 4))
    print(markdown(report["forward_cost"], ["verified_tokens", "chain_ms", "tree_ms"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
