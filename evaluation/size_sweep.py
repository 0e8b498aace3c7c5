"""Drafter-size sweep for `sd`: acceptance rate α, MAT, cost ratio c and speedup per drafter and γ,
next to the speedup Leviathan's formula predicts from α, γ and c (evaluation/leviathan.py).

    python -m evaluation.size_sweep --drafters D1 D2 ... --questions Q.jsonl --out-dir outputs/size_sweep/de
        [--target gemma-3-270m] [--gammas 1 3 5] [--limit 20] [--max-new-tokens 128] [--dtype auto]
        [--quantize-drafter]

Runs `ar` and `sd` for every (drafter, γ) side by side (evaluation.side_by_side): every question is
answered by all runs before the next, so machine drift hits all alike (resumable: rerunning skips
answered questions), then writes sweep.md / sweep.csv / sweep.json and speedup.png
(speedup against drafter size, one line per γ, measured solid and predicted dashed) to --out-dir.
α is the per-token acceptance rate whose expected tokens per verification step E(α, γ) equals the
measured one (prefill forwards excluded); c is the drafter's single-token step time over the target's,
timed on the first question's prompt. `predicted` is Leviathan's formula, which takes a verification to
cost one target step; `verify` is what a forward over γ+1 tokens measures in target steps, and
`predicted_v` puts it in the formula: what is left of the gap after it is the loop's own work (the
drafter's catch-up over accepted tokens, cache edits, Python) and answers ending mid-draft.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

import torch

from data_processing.errors import InputError
from data_processing.questions import load_questions
from evaluation import run as evaluation_run
from evaluation import side_by_side
from evaluation.answers import load_answers
from evaluation.leviathan import alpha_from_tokens, expected_speedup
from evaluation.speed import evaluate_file
from evaluation.step_cost import step_time, verify_cost
from evaluation.tables import dict_table
from model.common.zoo import load_model, resolve
from model.sd.vocab import DraftVocab
from multispec.options import add_generation_options, add_target_options


def verification_steps(rows: list[dict]) -> list[int]:
    """Tokens emitted by each verification forward: every turn's accept lengths after its prefill entry."""
    steps = []
    for row in rows:
        choice, start = row["choices"][0], 0
        for count in choice["decoding_steps"]:
            steps += choice["accept_lengths"][start + 1: start + count]
            start += count
    return steps


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())  # tied embeddings are one tensor, counted once


def cost_ratio(target_model, target_step: float, drafter_path: str, prompt_ids: list[int],
               quantize: bool) -> tuple[float, int]:
    """(drafter step time / the target's `target_step`, drafter parameters)."""
    drafter, _ = load_model(drafter_path, dtype="float32" if quantize else str(target_model.dtype).removeprefix("torch."),
                            device=str(target_model.device))
    params = parameters(drafter)
    if quantize:
        from model.common.quantize import int8_dynamic

        drafter = int8_dynamic(drafter)
    vocab = DraftVocab.load(resolve(drafter_path))
    draft_ids = vocab.to_draft[torch.tensor(prompt_ids)].tolist() if vocab else prompt_ids
    return step_time(drafter, draft_ids) / target_step, params


def sweep_row(name: str, params: int, gamma: int, c: float, verify: float, base: list[dict], rows: list[dict],
              file: str) -> dict:
    measured = evaluate_file(base, rows, file).overall
    steps = verification_steps(rows)
    tokens = statistics.fmean(steps) if steps else 1.0
    alpha = alpha_from_tokens(min(max(tokens, 1.0), gamma + 1), gamma)
    predicted = expected_speedup(alpha, gamma, c)
    predicted_v = expected_speedup(alpha, gamma, c, verify)
    return {"drafter": name, "params_M": params / 1e6, "gamma": gamma, "alpha": alpha, "tokens_per_step": tokens,
            "MAT": measured.mat, "cost_ratio": c, "speedup": measured.speedup, "predicted": predicted,
            "gap": measured.speedup / predicted - 1, "verify": verify, "predicted_v": predicted_v,
            "gap_v": measured.speedup / predicted_v - 1}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, gamma in enumerate(sorted({r["gamma"] for r in rows})):
        line = sorted((r for r in rows if r["gamma"] == gamma), key=lambda r: r["params_M"])
        sizes = [r["params_M"] for r in line]
        color = f"C{i}"
        ax.plot(sizes, [r["speedup"] for r in line], "o-", color=color, label=f"γ={gamma} measured")
        ax.plot(sizes, [r["predicted"] for r in line], "x--", color=color, alpha=0.6, label=f"γ={gamma} predicted")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("drafter parameters (M)")
    ax.set_ylabel("speedup over ar")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drafters", nargs="+", required=True)
    parser.add_argument("--names", nargs="+", default=None, help="one label per drafter (default: folder names)")
    parser.add_argument("--questions", required=True)
    parser.add_argument("--out-dir", required=True)
    add_target_options(parser, device=False)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--gammas", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--quantize-drafter", action="store_true")
    parser.add_argument("--warmup", type=int, default=evaluation_run.WARMUP_RUNS)
    return parser


def run(args: argparse.Namespace) -> list[dict]:
    names = args.names or [Path(d.rstrip("/")).parent.name if Path(d).name == "final" else Path(d).name for d in args.drafters]
    if len(names) != len(args.drafters) or len(set(names)) != len(names):
        raise InputError(f"need one distinct name per drafter, got {names}: pass --names")
    out = Path(args.out_dir)
    loaded = load_model(args.target, dtype=args.dtype)  # once, for every run and for the cost ratios
    shared = {"target": args.target, "limit": args.limit, "max_new_tokens": args.max_new_tokens, "dtype": args.dtype,
              "warmup": args.warmup}
    runs = {"ar": evaluation_run.settings("ar", args.questions, out / "ar.jsonl", **shared)}
    for name, drafter in zip(names, args.drafters):
        for gamma in args.gammas:
            runs[f"sd-{name}-g{gamma}"] = evaluation_run.settings(
                "sd", args.questions, out / f"sd-{name}-g{gamma}.jsonl",
                {"drafter": drafter, "gamma": gamma, "quantize": args.quantize_drafter}, **shared)
    side_by_side.answer_side_by_side(runs, loaded)

    target_model, tokenizer = loaded
    prompt_ids = tokenizer(load_questions(args.questions)[0]["turns"][0]).input_ids
    base = load_answers(out / "ar.jsonl")
    target_step = step_time(target_model, prompt_ids)  # one denominator for every c and every verify
    verify = {gamma: verify_cost(target_model, prompt_ids, gamma, target_step) for gamma in args.gammas}
    rows = []
    for name, drafter in zip(names, args.drafters):
        c, params = cost_ratio(target_model, target_step, drafter, prompt_ids, args.quantize_drafter)
        for gamma in args.gammas:
            file = out / f"sd-{name}-g{gamma}.jsonl"
            rows.append(sweep_row(name, params, gamma, c, verify[gamma], base, load_answers(file), str(file)))
    table = dict_table(rows)
    (out / "sweep.md").write_text(table + "\n", encoding="utf-8")
    (out / "sweep.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    with (out / "sweep.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out / "speedup.png")
    print(table)
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
