"""Benchmark of the shared loop on the embedded target (the spine's numbers; not a test).

Side by side in one run, on the same prompts:
  1. our `ar` vs HF `generate` greedy (tokens/s ratio; goal >= 1.0), and our `pld` vs HF prompt lookup;
  2. loop overhead per step: wall time outside the target's and drafter's model forwards;
  3. target forward time vs number of verified tokens (chain and tree masks), which bounds every speedup;
  4. per language: tokens/s, speedup over `ar` and MAT of `ar` and `pld` (and `sd` with --drafter).

    python -m evaluation.bench_loop [--target gemma-3-270m] [--max-new-tokens 64] [--drafter PATH]
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
    """Interleaved per prompt: HF greedy generate, our ar, HF prompt lookup, our pld (no stop strings)."""
    model = target.model
    cfg = GenerationConfig(max_new_tokens=max_new, eos_token_ids=(tokenizer.eos_token_id,), profile=True)
    drafters = {m: build_drafter(m, target, {}, accept=cfg.accept) for m in ("ar", "pld")}
    hf_kwargs = dict(max_new_tokens=max_new, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                     pad_token_id=tokenizer.pad_token_id, top_p=None, top_k=None, temperature=None)

    def hf(ids: list[int], **extra) -> int:
        out = model.generate(torch.tensor([ids], device=target.device), **hf_kwargs, **extra)
        return out.shape[1] - len(ids)

    rows = {k: {"time": 0.0, "tokens": 0} for k in ("hf_greedy", "ar", "hf_pld", "pld")}
    overhead = {m: {"wall": 0.0, "model": 0.0, "draft": 0.0, "steps": 0} for m in drafters}
    for ids in tqdm(prompts, desc="HF vs ours"):
        for key, fn in (("hf_greedy", lambda: hf(ids)), ("hf_pld", lambda: hf(ids, prompt_lookup_num_tokens=10))):
            seconds, n = time_call(fn, target.device)
            rows[key]["time"] += seconds
            rows[key]["tokens"] += n
        for method, drafter in drafters.items():
            with forward_timer(model) as spent:
                gen = generate(ids, target, drafter, cfg, tokenizer)
            rows[method]["time"] += gen.wall_time
            rows[method]["tokens"] += len(gen.tokens)
            o = overhead[method]
            o["wall"] += gen.wall_time
            o["model"] += spent[0]
            o["draft"] += gen.stats.draft_time
            o["steps"] += gen.steps
    tps = {k: v["tokens"] / v["time"] for k, v in rows.items()}
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


def per_language(target: Target, tokenizer, prompts: list[tuple[str, list[int]]], methods: dict, max_new: int) -> list[dict]:
    """tokens/s, speedup over ar (mean of per-prompt ratios) and MAT, stopping translations at the first newline."""
    cfg = GenerationConfig(max_new_tokens=max_new, eos_token_ids=(tokenizer.eos_token_id,), stop_strings=("\n",))
    results: dict[tuple[str, str], list] = {}
    for lang, ids in tqdm(prompts, desc="methods x languages"):
        for method, drafter in methods.items():
            gen = generate(ids, target, drafter, cfg, tokenizer)
            results.setdefault((method, lang), []).append(gen)
    rows = []
    for (method, lang), gens in results.items():
        base = results[("ar", lang)]
        rows.append({
            "method": method,
            "language": lang,
            "tokens_per_s": sum(len(g.tokens) for g in gens) / sum(g.wall_time for g in gens),
            "speedup": statistics.mean((len(g.tokens) / g.wall_time) / (len(b.tokens) / b.wall_time) for g, b in zip(gens, base)),
            "mat": sum(sum(g.stats.accept_lengths) for g in gens) / sum(g.steps for g in gens),
            "mean_new_tokens": statistics.mean(len(g.tokens) for g in gens),
        })
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
    parser.add_argument("--drafter", default=None, help="draft model for sd (same tokenizer as the target)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--per-language", type=int, default=3, help="prompts per language")
    parser.add_argument("--out", default="outputs/bench_loop.json")
    args = parser.parse_args(argv)

    model, tokenizer = load_model(args.target, dtype=args.dtype)
    target = Target(model)
    prompts = [(lang, tokenizer(p).input_ids) for lang, p in sample_prompts(args.per_language)]
    print(f"target {args.target} on {target.device} in {target.dtype}, {torch.get_num_threads()} threads, "
          f"{len(prompts)} prompts", flush=True)

    methods = {m: build_drafter(m, target, {}, accept=AcceptConfig()) for m in ("ar", "pld")}
    if args.drafter:
        methods["sd"] = build_drafter("sd", target, {"drafter": args.drafter}, tokenizer=tokenizer, accept=AcceptConfig())
    warm_cfg = GenerationConfig(max_new_tokens=args.max_new_tokens)
    for _ in range(3):  # warm-up on the first prompt, discarded
        for drafter in methods.values():
            generate(prompts[0][1], target, drafter, warm_cfg, tokenizer)

    report = {
        "target": args.target, "device": str(target.device), "dtype": str(target.dtype),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "hf_vs_ours": hf_vs_ours(target, tokenizer, [ids for _, ids in prompts], args.max_new_tokens),
        "forward_cost": forward_cost_curve(target, prompts[0][1] * 4, [0, 1, 3, 7, 15, 31, 63]),
        "per_language": per_language(target, tokenizer, prompts, methods, args.max_new_tokens),
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
    print("\n## Methods per language (translation, stop at first newline)")
    print(markdown(report["per_language"], ["method", "language", "tokens_per_s", "speedup", "mat", "mean_new_tokens"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
