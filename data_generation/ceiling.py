"""The fastest this machine can make training data for a target: its linear layers timed alone.

    multispec ceiling --dump data/scaling/de/sd-t07 [--target gemma-3-270m] [--dtype auto]
        [--rows 1024] [--batch-size 32]

Every token of a hidden-state dump or of a self-distilled answer costs at least the target's matrix products: each
linear layer of the decoder once per token, and the LM head once per answer token (a dump labels answer positions
only; generation picks each answer token from it). This times every distinct linear shape alone, in the target's
dtype with the threads torch uses, at --rows rows (a dump's batch, a prompt's prefill) and at --batch-size rows (one
decoding step of a continuous batch), and turns the times into tokens/s for the mean prompt and answer lengths of
--dump. Attention scores, norms, the KV cache, sampling and writing come on top, so real rates are lower: a goal
above these ceilings is out of reach on this machine whatever the code around the products does.
"""
from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from data_generation.feature_shards import read_index
from data_processing.errors import InputError, positive_int, run_command
from evaluation.tables import dict_table
from model.common.device import pick_device, pick_dtype, synchronize
from multispec.options import add_target_options


def linear_shapes(target: str) -> tuple[Counter, tuple[int, int]]:
    """(out, in) of every linear layer in the decoder, counted, and the LM head's (vocab, hidden); no weights load."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from model.common.zoo import resolve

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(resolve(target)))
    body = Counter(tuple(m.weight.shape) for m in model.get_decoder().modules() if isinstance(m, torch.nn.Linear))
    return body, tuple(model.get_output_embeddings().weight.shape)


def mean_lengths(dump: Path) -> tuple[float, float]:
    """Mean prompt and answer tokens per conversation of a dump (answer: its loss positions, the EOS included)."""
    try:
        index = read_index(dump)
    except (FileNotFoundError, ValueError) as err:
        raise InputError(f"--dump: {err}") from None
    if not index.get("complete"):
        raise InputError(f"--dump {dump} is an unfinished dump: rerun its hidden_states command to finish it")
    prompt = answer = 0
    for shard in index["shards"]:
        with safe_open(str(dump / shard["file"]), framework="pt") as f:
            mask = f.get_tensor("loss_mask")
        answer += int(mask.sum())
        prompt += mask.numel() - int(mask.sum())
    conversations = sum(shard["count"] for shard in index["shards"])
    return prompt / conversations, answer / conversations


@torch.inference_mode()
def seconds_per_row(shape: tuple[int, int], rows: int, dtype: torch.dtype, device: torch.device,
                    repeats: int = 3, at_least: float = 0.5) -> float:
    """Time of one (rows, in) x (out, in)^T product divided by rows: the best of at least `repeats` runs after a
    warm-up, and of as many more as `at_least` seconds hold (a product of a millisecond varies a lot run to run)."""
    weight = torch.randn(shape, dtype=dtype, device=device)
    x = torch.randn(rows, shape[1], dtype=dtype, device=device)
    best, spent, runs = float("inf"), 0.0, 0
    while runs <= repeats or spent < at_least:
        synchronize(device)
        start = time.perf_counter()
        torch.nn.functional.linear(x, weight)
        synchronize(device)
        elapsed = time.perf_counter() - start
        if runs:  # the first run warms up
            best, spent = min(best, elapsed), spent + elapsed
        runs += 1
    return best / rows


def ceilings(args: argparse.Namespace) -> dict[str, Any]:
    dump = Path(args.dump)
    prompt, answer = mean_lengths(dump)
    body, head = linear_shapes(args.target)
    device = pick_device(args.device)
    dtype = pick_dtype(device, args.dtype)
    # seconds per token in the decoder's products, and in the LM head's, at both row counts
    per_token = {rows: (sum(n * seconds_per_row(shape, rows, dtype, device) for shape, n in body.items()),
                        seconds_per_row(head, rows, dtype, device))
                 for rows in (args.rows, args.batch_size)}
    (body_wide, head_wide), (body_step, head_step) = per_token[args.rows], per_token[args.batch_size]
    dump_seconds = (prompt + answer) * body_wide + answer * head_wide  # one conversation
    distill_seconds = prompt * body_wide + answer * (body_step + head_step)  # prefill, then a step per answer token
    flop = 2 * sum(n * shape[0] * shape[1] for shape, n in body.items()), 2 * head[0] * head[1]
    return {"target": args.target, "dtype": str(dtype).removeprefix("torch."), "threads": torch.get_num_threads(),
            "prompt_tokens": prompt, "answer_tokens": answer, "decoder_flop_per_token": flop[0],
            "lm_head_flop_per_token": flop[1],
            "gflops": {rows: (flop[0] / b / 1e9, flop[1] / h / 1e9) for rows, (b, h) in per_token.items()},
            "dump_tokens_per_s": (prompt + answer) / dump_seconds,
            "distill_answer_tokens_per_s": answer / distill_seconds}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dump", required=True, help="a hidden-state dump of the data in question: its prompt and answer lengths")
    add_target_options(parser)
    parser.add_argument("--rows", type=positive_int, default=1024, help="rows per product of a dump batch or a prefill")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="rows per product of one decoding step")
    result = ceilings(parser.parse_args(argv))
    print(f"{result['target']} in {result['dtype']}, {result['threads']} threads; {result['prompt_tokens']:.1f} prompt "
          f"+ {result['answer_tokens']:.1f} answer tokens per conversation; per token "
          f"{result['decoder_flop_per_token'] / 1e9:.3f} GFLOP in the decoder's linear layers, "
          f"{result['lm_head_flop_per_token'] / 1e9:.3f} in the LM head")
    print(dict_table([{"rows per product": rows, "decoder GFLOP/s": f"{b:.0f}", "LM head GFLOP/s": f"{h:.0f}"}
                      for rows, (b, h) in result["gflops"].items()]))
    print(dict_table([{"work": "hidden-state dump", "ceiling": f"{result['dump_tokens_per_s']:.0f} tokens/s"},
                      {"work": "self-distillation, greedy",
                       "ceiling": f"{result['distill_answer_tokens_per_s']:.0f} answer tokens/s"}]))
    return result


if __name__ == "__main__":
    run_command(main)
