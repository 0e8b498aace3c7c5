"""Lossless check: compare generated token ids of an answer file with a plain-decoding (ar) baseline.

    python -m evaluation.equal --baseline AR.jsonl --answers METHOD.jsonl [--target MODEL] [--tie-tolerance 0.25]

Prints the agreement rate (naming answers without a baseline row) and, for each divergence, the target's logit gap between the two tokens
at that step (recomputed with one plain forward in the baseline's dtype). Exits non-zero on any
divergence that is not a near-tie, and on length mismatches (one output a strict prefix of the other).
In float32 demand --tie-tolerance 0; bfloat16 logits near 20 are spaced 0.125 apart, hence the default.
Files without token ids (Spec-Bench's own answer files) are compared by their text, and the output says so.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import torch

from data_processing.errors import run_command
from evaluation.answers import load_answers


@dataclass
class Divergence:
    question_id: str
    turn: int
    step: int  # index of the first differing new token
    baseline_token: int | None
    answer_token: int | None
    logit_gap: float | None = None  # |logit(baseline) - logit(answer)| at that step; None for length mismatches


def first_divergence(a: list[int], b: list[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def compared_key(baseline: list[dict], answers: list[dict]) -> str:
    """'token_ids' when every row of both files has them (ours); else 'turns': the answer texts (Spec-Bench's files)."""
    has_ids = all(isinstance(row["choices"][0].get("token_ids"), list) for row in [*baseline, *answers])
    return "token_ids" if has_ids else "turns"


def without_baseline(baseline: list[dict], answers: list[dict]) -> list:
    """question_ids of the answer file that the baseline lacks (they are not compared)."""
    base = {row["question_id"] for row in baseline}
    return [row["question_id"] for row in answers if row["question_id"] not in base]


def compare(baseline: list[dict], answers: list[dict], key: str = "token_ids") -> tuple[int, int, list[Divergence]]:
    """(matched turns, identical turns, divergences) over questions present in both files. With key='turns' the
    texts are compared: a divergence's step is then a character, and it carries no tokens."""
    base = {row["question_id"]: row["choices"][0] for row in baseline}
    matched = same = 0
    found: list[Divergence] = []
    for row in answers:
        ref = base.get(row["question_id"])
        if ref is None:
            continue
        for turn, (a, b) in enumerate(zip(ref[key], row["choices"][0][key])):
            matched += 1
            step = first_divergence(a, b)
            if step is None:
                same += 1
            elif key == "turns":
                found.append(Divergence(row["question_id"], turn, step, None, None))
            else:
                found.append(Divergence(row["question_id"], turn, step,
                                        a[step] if step < len(a) else None, b[step] if step < len(b) else None))
    return matched, same, found


def logit_gaps(target_name: str, dtype: str, baseline: list[dict], found: list[Divergence]) -> None:
    """Fill in the target's logit gap at each token divergence with one plain forward of the context."""
    from model.common.zoo import load_model

    model, _ = load_model(target_name, dtype=dtype)
    base = {row["question_id"]: row["choices"][0] for row in baseline}
    for d in found:
        if d.baseline_token is None or d.answer_token is None:
            continue
        choice = base[d.question_id]
        context = choice["prompt_token_ids"][d.turn] + choice["token_ids"][d.turn][: d.step]
        with torch.inference_mode():
            logits = model(torch.tensor([context], device=model.device), logits_to_keep=1).logits[0, -1].float()
        d.logit_gap = abs(float(logits[d.baseline_token] - logits[d.answer_token]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--answers", required=True)
    parser.add_argument("--target", default=None, help="default: the baseline's target")
    parser.add_argument("--dtype", default=None, help="default: the baseline's dtype")
    parser.add_argument("--tie-tolerance", type=float, default=0.25)
    args = parser.parse_args(argv)

    baseline, answers = load_answers(args.baseline), load_answers(args.answers)
    key = compared_key(baseline, answers)
    matched, same, found = compare(baseline, answers, key)
    if matched == 0:
        sys.exit("no question appears in both files")
    if any(d.answer_token is not None and d.baseline_token is not None for d in found):
        first = baseline[0]
        logit_gaps(args.target or first["config"]["target"], args.dtype or first["environment"]["dtype"], baseline, found)
    if key == "turns":
        print("no token ids in these files (not written by multispec): comparing answer texts, so a divergence is "
              "reported at a character and near-ties cannot be told apart")
    print(f"agreement: {same}/{matched} turns identical ({100 * same / matched:.1f}%)")
    missing = without_baseline(baseline, answers)
    if missing:
        print(f"not compared: {len(missing)} answer(s) without a baseline row in {args.baseline}: "
              f"{', '.join(map(str, missing[:10]))}{' ...' if len(missing) > 10 else ''}")
    failures = 0
    for d in found:
        if key == "turns":
            verdict = "TEXT MISMATCH"
        elif d.logit_gap is None:
            verdict = "LENGTH MISMATCH"
        elif d.logit_gap <= args.tie_tolerance:
            verdict = "near-tie"
        else:
            verdict = "MISMATCH"
        failures += verdict != "near-tie"
        gap = "" if d.logit_gap is None else f" logit gap {d.logit_gap:.4f}"
        where = f"character {d.step}" if key == "turns" else \
            f"token {d.step}: baseline {d.baseline_token} vs {d.answer_token}{gap}"
        print(f"  {d.question_id} turn {d.turn} {where} -> {verdict}")
    if failures:
        sys.exit(f"{failures} divergence(s) beyond tie tolerance {args.tie_tolerance}")


if __name__ == "__main__":
    run_command(main)
