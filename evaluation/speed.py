"""Speed metrics of answer files against a plain-decoding baseline: speedup, total-token ratio, MAT, output length.

    python -m evaluation.speed --baseline AR_FILE --answers FILE [FILE ...] [--format md|csv|json]

Definitions (DESIGN.md section 4), computed on the questions present in both the baseline and the method file:
  speedup           = mean per-question tokens/s of the method / mean per-question tokens/s of the baseline
                      (Spec-Bench's definition; per-question tokens/s = sum(new_tokens) / sum(wall_time) over turns)
  total-token ratio = (sum tokens / sum time of the method) / (the same for the baseline)
  MAT (tau)         = sum(accept_lengths) / len(accept_lengths) over all target forwards (plain decoding = 1.0)
  mean new tokens   = mean tokens generated per question, shown so that longer (e.g. repetitive) output
                      cannot pass for speed.
  hit limit         = share of answered turns that stopped at max_new_tokens (method and baseline)
  repeated          = share of answer tokens inside a 4-gram said twice in the same answer (method and baseline);
  echoed            = share of first answers that stand verbatim in their own prompt (method and baseline; needs
                      --questions): a source sentence written back instead of translated;
                      a run with any of the three above 0.5 is flagged DEGENERATE (evaluation.degenerate).
  chrF, BLEU        = corpus scores (sacrebleu) of the first turns against the question file's references, with
                      --questions; a greedy lossless method must score exactly as the baseline (checked).
  acceptance by depth = rate at which the draft token at depth d was accepted given depth d-1 was
                      (evaluation.depth_acceptance), for rows that record their drafts' depths.
Several files of the same method (repeated runs) are averaged, with the sample std of the speedup across them.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
import sys
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from evaluation.comparability import comparability_problems, settings_recorded
from evaluation.degenerate import echo_share, flagged, limit_share, repetition
from evaluation.depth_acceptance import acceptance_by_depth
from evaluation.quality import corpus_scores, load_question_texts
from evaluation.tables import markdown_table
from data_processing.errors import run_command
from evaluation.answers import (AnswerFileError, Row, accept_lengths, is_lossy, load_answers, new_tokens, run_label,
                                run_options, tokens_per_second, wall_time)

OVERALL = "overall"


@dataclass(frozen=True)
class Metrics:
    """Speed numbers of one method on one set of matched questions."""

    questions: int
    speedup: float
    total_token_ratio: float
    mat: float  # nan when no accept lengths were recorded
    mean_new_tokens: float
    baseline_mean_new_tokens: float
    tokens_per_s: float  # mean per-question tokens/s of the method
    baseline_tokens_per_s: float  # the same for the baseline, on the same questions
    hit_limit: float = math.nan  # share of turns stopped by max_new_tokens (nan: the rows do not record the limit)
    baseline_hit_limit: float = math.nan
    repeated: float = 0.0  # share of answer tokens inside repeated 4-grams
    baseline_repeated: float = 0.0
    echoed: float = math.nan  # share of first answers found verbatim in their prompt (nan: no prompts given)
    baseline_echoed: float = math.nan
    chrf: float = math.nan  # corpus chrF against the references (nan: no references given or none matched)
    baseline_chrf: float = math.nan
    bleu: float = math.nan
    baseline_bleu: float = math.nan
    by_depth: tuple[float, ...] | None = None  # acceptance at draft depth 1, 2, ... (None: depths not recorded)


@dataclass(frozen=True)
class FileResult:
    """Metrics of one answer file: overall and per category, plus how the questions matched."""

    file: str
    method: str
    lossy: bool
    run: str
    overall: Metrics
    categories: dict[str, Metrics]
    unmatched: int  # questions of the method file without a baseline answer
    accept_lengths: list[int]  # every matched question's accept lengths, for histograms
    options: dict[str, Any] = field(default_factory=dict)  # the method's options (config.method_options)
    settings_checked: bool = True  # False: a file without a recorded configuration (e.g. Spec-Bench's own)
    greedy: bool = False  # recorded at temperature 0: a lossless method must then write (and score) as the baseline


@dataclass(frozen=True)
class SummaryRow:
    """One (method, category) line of the table; means over runs, std of the speedup when runs > 1."""

    label: str
    category: str
    runs: int
    questions: str
    speedup: float
    speedup_std: float  # nan for a single run
    total_token_ratio: float
    mat: float
    mean_new_tokens: float
    baseline_mean_new_tokens: float
    tokens_per_s: float
    baseline_tokens_per_s: float
    hit_limit: float = math.nan
    baseline_hit_limit: float = math.nan
    repeated: float = 0.0
    baseline_repeated: float = 0.0
    echoed: float = math.nan
    baseline_echoed: float = math.nan
    chrf: float = math.nan
    baseline_chrf: float = math.nan
    bleu: float = math.nan
    baseline_bleu: float = math.nan
    by_depth: tuple[float, ...] | None = None

    @property
    def flag(self) -> str:
        """'DEGENERATE' when most answers (of the method or of its baseline) hit the limit, repeat themselves or
        echo their prompt."""
        return "DEGENERATE" if flagged(self) else ""


# The numbers a Metrics and a SummaryRow share: each run's value, their mean over runs, one JSON key each.
SCALARS = ("speedup", "total_token_ratio", "mat", "mean_new_tokens", "baseline_mean_new_tokens", "tokens_per_s",
           "baseline_tokens_per_s", "hit_limit", "baseline_hit_limit", "repeated", "baseline_repeated", "echoed",
           "baseline_echoed", "chrf", "baseline_chrf", "bleu", "baseline_bleu")


def _share(value: float | None) -> float:
    return math.nan if value is None else value


def method_label(method: str, lossy: bool) -> str:
    """Name shown in tables; lossy methods (not distribution preserving) are marked so they are not compared blindly."""
    return f"{method} (lossy)" if lossy else method


def match_questions(baseline: Sequence[Row], rows: Sequence[Row], name: str = "answers") -> list[tuple[Row, Row]]:
    """(baseline row, method row) for every question_id in both, in the method file's order; error if none match."""
    by_id = {r["question_id"]: r for r in baseline}
    pairs = [(by_id[r["question_id"]], r) for r in rows if r["question_id"] in by_id]
    if not pairs:
        raise ValueError(f"{name}: none of its {len(rows)} question_ids appear in the baseline file")
    for b, m in pairs:
        if b["category"] != m["category"]:
            # Same id in two categories means the files come from different question sets.
            raise ValueError(
                f"{name}: question '{m['question_id']}' has category '{m['category']}' "
                f"but '{b['category']}' in the baseline file"
            )
    return pairs


def compute_metrics(pairs: Sequence[tuple[Row, Row]], references: dict | None = None,
                    prompts: dict | None = None) -> Metrics:
    """Metrics over matched (baseline, method) pairs (quality against `references`, echoes of `prompts`, both
    question_id -> text); no I/O."""
    if not pairs:
        raise ValueError("no matched questions to compute metrics on")
    base_tps = statistics.fmean(tokens_per_second(b) for b, _ in pairs)
    meth_tps = statistics.fmean(tokens_per_second(m) for _, m in pairs)
    base_tokens = sum(new_tokens(b) for b, _ in pairs)
    base_time = sum(wall_time(b) for b, _ in pairs)
    meth_tokens = sum(new_tokens(m) for _, m in pairs)
    meth_time = sum(wall_time(m) for _, m in pairs)
    if base_tokens == 0:
        raise ValueError("the baseline generated 0 tokens on the matched questions; speedup is undefined")
    steps = [a for _, m in pairs for a in accept_lengths(m)]
    quality = corpus_scores([m for _, m in pairs], references or {}) or (math.nan, math.nan)
    base_quality = corpus_scores([b for b, _ in pairs], references or {}) or (math.nan, math.nan)
    return Metrics(
        questions=len(pairs),
        speedup=meth_tps / base_tps,
        total_token_ratio=(meth_tokens / meth_time) / (base_tokens / base_time),
        mat=sum(steps) / len(steps) if steps else math.nan,
        mean_new_tokens=meth_tokens / len(pairs),
        baseline_mean_new_tokens=base_tokens / len(pairs),
        tokens_per_s=meth_tps,
        baseline_tokens_per_s=base_tps,
        hit_limit=_share(limit_share([m for _, m in pairs])),
        baseline_hit_limit=_share(limit_share([b for b, _ in pairs])),
        repeated=repetition([m for _, m in pairs]),
        baseline_repeated=repetition([b for b, _ in pairs]),
        echoed=_share(echo_share([m for _, m in pairs], prompts or {})),
        baseline_echoed=_share(echo_share([b for b, _ in pairs], prompts or {})),
        chrf=quality[0], baseline_chrf=base_quality[0], bleu=quality[1], baseline_bleu=base_quality[1],
        by_depth=acceptance_by_depth([m for _, m in pairs]),
    )


def evaluate_file(baseline: Sequence[Row], rows: Sequence[Row], file: str, references: dict | None = None,
                  prompts: dict | None = None) -> FileResult:
    """Overall and per-category metrics of one answer file against the baseline rows."""
    pairs = match_questions(baseline, rows, file)
    by_cat: dict[str, list[tuple[Row, Row]]] = {}
    for pair in pairs:
        by_cat.setdefault(pair[1]["category"], []).append(pair)
    runs = {run_label(r) for r in rows}
    return FileResult(
        file=file,
        method=rows[0]["method"],
        lossy=is_lossy(rows[0]),
        run=runs.pop() if len(runs) == 1 else ",".join(sorted(runs)),
        overall=compute_metrics(pairs, references, prompts),
        categories={cat: compute_metrics(p, references, prompts) for cat, p in sorted(by_cat.items())},
        unmatched=len(rows) - len(pairs),
        accept_lengths=[a for _, m in pairs for a in accept_lengths(m)],
        options=run_options(rows[0].get("config") or {}),
        greedy=(rows[0].get("config") or {}).get("temperature") == 0,
    )


def group_runs(results: Sequence[FileResult]) -> dict[str, list[FileResult]]:
    """Files grouped as repeated runs of one configuration, in order of first appearance.

    Files of one method with different options (e.g. two drafters for sd) are different
    configurations, not repeated runs: their labels carry the options that differ.
    """
    by_method: dict[str, list[FileResult]] = {}
    for r in results:
        by_method.setdefault(method_label(r.method, r.lossy), []).append(r)
    groups: dict[str, list[FileResult]] = {}
    for label, files in by_method.items():
        keys = sorted({k for r in files for k in r.options})
        varying = [k for k in keys if len({json.dumps(r.options.get(k), sort_keys=True) for r in files}) > 1]
        for r in files:
            detail = ", ".join(f"{k}={r.options.get(k)}" for k in varying)
            groups.setdefault(f"{label} [{detail}]" if detail else label, []).append(r)
    return groups


def _summary_row(label: str, category: str, metrics: list[Metrics]) -> SummaryRow:
    counts = sorted({m.questions for m in metrics})
    mean = lambda field: statistics.fmean(getattr(m, field) for m in metrics)  # noqa: E731
    return SummaryRow(
        label=label,
        category=category,
        runs=len(metrics),
        # Runs that matched different numbers of questions show the range rather than hiding it.
        questions=str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}",
        speedup_std=statistics.stdev(m.speedup for m in metrics) if len(metrics) > 1 else math.nan,
        **{field: mean(field) for field in SCALARS},
        by_depth=_mean_by_depth([m.by_depth for m in metrics]),
    )


def _mean_by_depth(runs: list[tuple[float, ...] | None]) -> tuple[float, ...] | None:
    """Per depth, the mean over the runs that reached it."""
    known = [r for r in runs if r is not None]
    if not known:
        return None
    return tuple(statistics.fmean(r[d] for r in known if len(r) > d) for d in range(max(map(len, known))))


def summarize(results: Sequence[FileResult]) -> list[SummaryRow]:
    """Table rows: per method, one per category (sorted) then the overall row."""
    table: list[SummaryRow] = []
    for label, runs in group_runs(results).items():
        categories = sorted({c for r in runs for c in r.categories})
        for cat in categories:
            # A run missing a category (e.g. interrupted) contributes only to the categories it has.
            table.append(_summary_row(label, cat, [r.categories[cat] for r in runs if cat in r.categories]))
        table.append(_summary_row(label, OVERALL, [r.overall for r in runs]))
    return table


COLUMNS = [
    ("method", "label"),
    ("category", "category"),
    ("runs", "runs"),
    ("questions", "questions"),
    ("speedup", "speedup"),
    ("speedup std", "speedup_std"),
    ("total-token ratio", "total_token_ratio"),
    ("MAT", "mat"),
    ("mean tokens", "mean_new_tokens"),
    ("baseline mean tokens", "baseline_mean_new_tokens"),
    ("tokens/s", "tokens_per_s"),
    ("baseline tokens/s", "baseline_tokens_per_s"),
    ("hit limit", "hit_limit"),
    ("baseline hit limit", "baseline_hit_limit"),
    ("repeated", "repeated"),
    ("baseline repeated", "baseline_repeated"),
    ("echoed", "echoed"),
    ("baseline echoed", "baseline_echoed"),
    ("chrF", "chrf"),
    ("baseline chrF", "baseline_chrf"),
    ("BLEU", "bleu"),
    ("baseline BLEU", "baseline_bleu"),
    ("flag", "flag"),
]
_DIGITS = {"tokens_per_s": 1, "baseline_tokens_per_s": 1, "mean_new_tokens": 1, "baseline_mean_new_tokens": 1,
           "hit_limit": 2, "baseline_hit_limit": 2, "repeated": 2, "baseline_repeated": 2,
           "echoed": 2, "baseline_echoed": 2, "chrf": 1, "baseline_chrf": 1, "bleu": 1, "baseline_bleu": 1}


def _cell(row: SummaryRow, field: str) -> str:
    value = getattr(row, field)
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{_DIGITS.get(field, 3)}f}"
    return str(value)


def _columns(table: Sequence[SummaryRow]) -> list[tuple[str, str]]:
    # Runs and std only mean something when some method was run more than once.
    if any(r.runs > 1 for r in table):
        return COLUMNS
    return [c for c in COLUMNS if c[1] not in ("runs", "speedup_std")]


MAX_DEPTH_SHOWN = 8


def depth_table(table: Sequence[SummaryRow]) -> str:
    """Acceptance per draft depth, one line per (method, category) that records it; '' when none does."""
    rows = [r for r in table if r.by_depth]
    if not rows:
        return ""
    depth = min(max(len(r.by_depth) for r in rows), MAX_DEPTH_SHOWN)
    cells = ([r.label, r.category, *(f"{r.by_depth[d]:.2f}" if d < len(r.by_depth) else "–" for d in range(depth))]
             for r in rows)
    return markdown_table(["method", "category", *(f"depth {d + 1}" for d in range(depth))], cells) + "\n"


def to_markdown(table: Sequence[SummaryRow]) -> str:
    cols = _columns(table)
    text = markdown_table([h for h, _ in cols], ([_cell(r, f) for _, f in cols] for r in table)) + "\n"
    depths = depth_table(table)
    return text + ("\nAcceptance per draft depth (given the depth above was accepted):\n\n" + depths if depths else "")


def to_csv(table: Sequence[SummaryRow]) -> str:
    cols = _columns(table)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(h for h, _ in cols)
    for r in table:
        writer.writerow("" if _cell(r, f) == "–" else _cell(r, f) for _, f in cols)
    return out.getvalue()


def _metrics_json(m: Metrics) -> dict[str, Any]:
    # JSON has no NaN; a share or score not known (NaN) becomes null.
    return {
        **{field: None if math.isnan(getattr(m, field)) else getattr(m, field) for field in SCALARS},
        "acceptance_by_depth": None if m.by_depth is None else list(m.by_depth),
        "degenerate": flagged(m),
        "questions": m.questions,
    }


def to_json(results: Sequence[FileResult]) -> list[dict[str, Any]]:
    """One object per answer file (not averaged over runs, so every run stays visible)."""
    return [
        {
            "file": r.file,
            "method": r.method,
            "lossy": r.lossy,
            "run": r.run,
            **_metrics_json(r.overall),
            "unmatched": r.unmatched,
            "categories": {cat: _metrics_json(m) for cat, m in r.categories.items()},
        }
        for r in results
    ]


def evaluate(baseline_file: str | Path, answer_files: Sequence[str | Path],
             questions: str | Path | None = None) -> list[FileResult]:
    """Loads the baseline and every answer file and evaluates each one against the baseline. The baseline must be
    plain decoding, made with the same settings as each file (target, length limit, sampling, dtype, device)."""
    baseline = load_answers(baseline_file)
    references, prompts = load_question_texts(questions) if questions else (None, None)
    if baseline[0]["method"] != "ar":
        raise AnswerFileError(f"{baseline_file}: the baseline was made with method {baseline[0]['method']!r}; "
                              "speedups are measured against plain decoding (method 'ar')")
    results = []
    for f in answer_files:
        rows = load_answers(f)
        diffs = comparability_problems(baseline, rows)
        if diffs:
            raise AnswerFileError(f"{f} was made with other settings than the baseline {baseline_file} "
                                  f"({'; '.join(diffs)}): its speedup would not compare like with like")
        result = evaluate_file(baseline, rows, str(f), references, prompts)
        results.append(dataclasses.replace(result, settings_checked=settings_recorded(baseline, rows)))
    return results


def match_notes(results: Sequence[FileResult], baseline_file: str | Path) -> list[str]:
    """One human-readable line per file saying how many questions matched the baseline."""
    return [
        f"{r.file} ({method_label(r.method, r.lossy)}): {r.overall.questions} questions matched {baseline_file}"
        + (f", {r.unmatched} without a baseline answer ignored" if r.unmatched else "")
        + ("; WARNING: settings not checked against the baseline (a file without a recorded configuration)"
           if not r.settings_checked else "")
        + (f"; WARNING: greedy and lossless, yet chrF {r.overall.chrf:.2f} differs from the baseline's "
           f"{r.overall.baseline_chrf:.2f} on the same questions" if quality_differs(r) else "")
        for r in results
    ]


def quality_differs(r: FileResult) -> bool:
    """A greedy lossless method whose answers score otherwise than the baseline's: it did not write the same text."""
    m = r.overall
    return r.greedy and not r.lossy and not math.isnan(m.chrf) and abs(m.chrf - m.baseline_chrf) > 1e-9


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.speed", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="answer file of plain decoding (method 'ar')")
    parser.add_argument("--answers", required=True, nargs="+", help="answer files of the methods to compare")
    parser.add_argument("--format", choices=["md", "csv", "json"], default="md")
    parser.add_argument("--questions", default=None, help="question file with references: chrF and BLEU next to speed")
    args = parser.parse_args(argv)
    try:
        results = evaluate(args.baseline, args.answers, args.questions)
    except ValueError as e:  # AnswerFileError included: report it without a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    for note in match_notes(results, args.baseline):
        print(note, file=sys.stderr)
    if args.format == "json":
        print(json.dumps(to_json(results), indent=2))
    elif args.format == "csv":
        sys.stdout.write(to_csv(summarize(results)))
    else:
        sys.stdout.write(to_markdown(summarize(results)))
    return 0


if __name__ == "__main__":
    run_command(main)
