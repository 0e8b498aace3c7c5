"""int8 models on CPU: `ar` and `sd` with the drafter and/or the target quantized (dynamic int8,
model/common/quantize.py), side by side in one run on the same questions.

    python -m evaluation.quantization --drafter D --questions Q.jsonl --out-dir outputs/quantization/de
        [--target gemma-3-270m] [--gamma 3] [--limit 20] [--max-new-tokens 128]

Everything runs in float32 (quantization starts from float32 weights). Per run: tokens/s, speedup
over float32 `ar`, MAT, and two agreements: with float32 `ar` (did quantization change the output?)
and with `ar` of the same target (is speculative decoding still lossless on that target?). Writes
quantization.md / quantization.json to --out-dir; answer files are kept there and reruns resume.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from evaluation import run as evaluation_run
from evaluation.answers import load_answers
from evaluation.equal import compare
from evaluation.speed import evaluate_file
from evaluation.tables import dict_table
from multispec.options import add_generation_options, add_target_options

# name -> (method, quantize the target, quantize the drafter)
RUNS = {
    "ar": ("ar", False, False),
    "ar int8-target": ("ar", True, False),
    "sd": ("sd", False, False),
    "sd int8-drafter": ("sd", False, True),
    "sd int8-target": ("sd", True, False),
    "sd int8-both": ("sd", True, True),
}


def file_name(name: str) -> str:
    return name.replace(" ", "_") + ".jsonl"


def agreement(baseline: list[dict], rows: list[dict]) -> float:
    matched, same, _ = compare(baseline, rows)
    return same / matched if matched else float("nan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drafter", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--out-dir", required=True)
    add_target_options(parser, dtype=False, device=False)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--gamma", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=evaluation_run.WARMUP_RUNS)
    return parser


def run(args: argparse.Namespace) -> list[dict]:
    out = Path(args.out_dir)
    shared = {"target": args.target, "limit": args.limit, "dtype": "float32", "device": "cpu",
              "max_new_tokens": args.max_new_tokens, "warmup": args.warmup}
    for name, (method, q_target, q_drafter) in RUNS.items():
        options = {"drafter": args.drafter, "gamma": args.gamma, "quantize": q_drafter} if method == "sd" else {}
        evaluation_run.answer_all(evaluation_run.settings(method, args.questions, out / file_name(name), options,
                                    quantize_target=q_target, **shared))

    answers = {name: load_answers(out / file_name(name)) for name in RUNS}
    rows = []
    for name, (method, q_target, q_drafter) in RUNS.items():
        metrics = evaluate_file(answers["ar"], answers[name], name).overall
        own_ar = answers["ar int8-target" if q_target else "ar"]
        rows.append({"run": name, "target": "int8" if q_target else "fp32",
                     "drafter": "-" if method == "ar" else "int8" if q_drafter else "fp32",
                     "tokens_per_s": metrics.tokens_per_s, "speedup_vs_fp32_ar": metrics.speedup, "MAT": metrics.mat,
                     "same_as_fp32_ar": agreement(answers["ar"], answers[name]),
                     "same_as_own_ar": agreement(own_ar, answers[name])})
    table = dict_table(rows)
    (out / "quantization.md").write_text(table + "\n", encoding="utf-8")
    (out / "quantization.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(table)
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
