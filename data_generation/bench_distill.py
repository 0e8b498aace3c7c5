"""Self-distillation throughput, side by side: continuous batching (the local backend) against static batches
through HF `generate` (the local backend before continuous batching: each batch runs until its longest row stops).

    python -m data_generation.bench_distill --prompts data/train/de.jsonl [--limit 128] [--batch-sizes 32 64]
        [--max-new-tokens 128] [--stop '\\n'] [--rounds 2] [--temperature 0] [--target gemma-3-270m]

Paths alternate within each round on the same prompts (this machine is noisy); greedy answers of every path are
compared with the static path's (sampled ones, --temperature > 0, cannot be). Prints a markdown table: answer tokens
per second and the speedup over static.
"""
from __future__ import annotations

import argparse
import time

import torch

from data_generation.local_backend import LocalBackend
from data_generation.prompts import read_prompts
from data_processing.errors import non_negative_float, positive_int, run_command
from data_processing.questions import stop_argument
from evaluation.tables import dict_table
from multispec.options import add_generation_options, add_target_options


@torch.inference_mode()
def static_batches(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int,
                   stops: tuple[str, ...], temperature: float = 0.0) -> list[tuple[str, int]]:
    """The baseline: fixed batches in file order, left-padded, HF generate with per-row stop strings."""
    sampling = dict(do_sample=True, temperature=temperature, top_p=1.0, top_k=0) if temperature > 0 else \
        dict(do_sample=False, temperature=None, top_p=None, top_k=None)
    tokenizer.padding_side = "left"
    results = []
    for first in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[first: first + batch_size], return_tensors="pt", padding=True).to(model.device)
        out = model.generate(**batch, max_new_tokens=max_new_tokens, **sampling, pad_token_id=tokenizer.pad_token_id,
                             stop_strings=list(stops) or None, tokenizer=tokenizer)
        for row in out[:, batch.input_ids.shape[1]:]:
            ids = [t for t in row.tolist() if t != tokenizer.pad_token_id]
            results.append((tokenizer.decode(ids, skip_special_tokens=True), len(ids)))
    return results


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", required=True)
    add_target_options(parser, device=False)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--limit", type=positive_int, default=128)
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[32, 64],
                        help="continuous batching slots (the static path uses the first)")
    parser.add_argument("--stop", action="append", default=None, type=stop_argument)
    parser.add_argument("--rounds", type=positive_int, default=2)
    parser.add_argument("--temperature", type=non_negative_float, default=0.0,
                        help="0: greedy (answers compared with the static path's); above 0: sampled at it")
    args = parser.parse_args(argv)
    from model.common.zoo import load_model

    stops = tuple(args.stop or ("\n",))
    prompts = [p for _, p in read_prompts(args.prompts)[: args.limit]]
    model, tokenizer = load_model(args.target, dtype=args.dtype)
    paths = {f"static, batch {args.batch_sizes[0]}":
             lambda: static_batches(model, tokenizer, prompts, args.batch_sizes[0], args.max_new_tokens, stops,
                                    args.temperature)}
    for size in args.batch_sizes:
        backend = LocalBackend(model, tokenizer, args.max_new_tokens, stops, batch_size=size)
        paths[f"continuous, {size} slots"] = lambda backend=backend: backend.complete(prompts, args.temperature, 0)
    seconds = dict.fromkeys(paths, 0.0)
    answers: dict[str, list[tuple[str, int]]] = {}
    for round_ in range(args.rounds):
        for name, run in paths.items():
            start = time.perf_counter()
            answers[name] = run()
            seconds[name] += time.perf_counter() - start
            print(f"[multispec] round {round_ + 1}: {name}: {time.perf_counter() - start:.1f} s", flush=True)
    reference = answers[next(iter(paths))]
    base_rate = None
    rows = []
    for name in paths:
        tokens = args.rounds * sum(n for _, n in answers[name])
        rate = tokens / seconds[name]
        base_rate = base_rate or rate
        same = sum(a[0] == b[0] for a, b in zip(answers[name], reference))
        rows.append({"path": name, "answer tokens": tokens, "seconds": f"{seconds[name]:.1f}",
                     "tokens/s": f"{rate:.1f}", "speedup": f"{rate / base_rate:.2f}x",
                     "greedy answers equal to static": "– (sampled)" if args.temperature > 0 else f"{same}/{len(prompts)}"})
    print(f"{len(prompts)} prompts of {args.prompts}, max {args.max_new_tokens} new tokens, stops {list(stops)}, "
          f"{args.rounds} rounds, temperature {args.temperature:g}, {torch.get_num_threads()} threads, {model.dtype}")
    print(dict_table(rows))
    return rows


if __name__ == "__main__":
    run_command(main)
