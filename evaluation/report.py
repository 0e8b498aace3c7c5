"""Markdown report and plots of speedup and accept lengths for a set of answer files.

    python -m evaluation.report --baseline AR_FILE --answers FILE [FILE ...] --out-dir DIR

Writes DIR/report.md (methods x categories, cells "speedup× / MAT", plus an overall table with output
lengths), DIR/speedup.png (grouped bars per method and category, dashed line at 1.0) and
DIR/accept_lengths.png (per-method distribution of tokens emitted per target forward), and where two or more
runs drafted with trained weights whose training data is known, DIR/training_data.png (speedup and MAT against
the answer tokens each was trained on).
Metric definitions live in evaluation.speed.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; works without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from data_processing.errors import run_command
from evaluation import training_data
from evaluation.tables import markdown_table
from evaluation.speed import (OVERALL, FileResult, SummaryRow, depth_table, evaluate, group_runs,  # noqa: E402
                              match_notes, summarize)


def _speed_cell(row: SummaryRow | None) -> str:
    if row is None:
        return "–"  # the method has no matched question in this category
    std = "" if math.isnan(row.speedup_std) else f" ± {row.speedup_std:.2f}"
    mat = "–" if math.isnan(row.mat) else f"{row.mat:.2f}"
    return f"{row.speedup:.2f}×{std} / {mat}"


def _categories(table: Sequence[SummaryRow]) -> list[str]:
    return sorted({r.category for r in table if r.category != OVERALL}) + [OVERALL]


def _methods(table: Sequence[SummaryRow]) -> list[str]:
    return list(dict.fromkeys(r.label for r in table))


def _overall_cells(r: SummaryRow) -> list[str]:
    std = "" if math.isnan(r.speedup_std) else f" ± {r.speedup_std:.3f}"
    mat = "–" if math.isnan(r.mat) else f"{r.mat:.3f}"
    share = lambda x: "–" if math.isnan(x) else f"{x:.2f}"  # noqa: E731
    return [r.label, str(r.runs), str(r.questions), f"{r.speedup:.3f}{std}", f"{r.total_token_ratio:.3f}", mat,
            f"{r.mean_new_tokens:.1f}", f"{r.baseline_mean_new_tokens:.1f}", f"{share(r.hit_limit)} / {share(r.baseline_hit_limit)}",
            f"{share(r.repeated)} / {share(r.baseline_repeated)}", f"{share(r.echoed)} / {share(r.baseline_echoed)}",
            quality(r.chrf, r.baseline_chrf),
            quality(r.bleu, r.baseline_bleu), r.flag]


def quality(score: float, baseline: float) -> str:
    return "–" if math.isnan(score) else f"{score:.1f} / {baseline:.1f}"


def render_markdown(table: Sequence[SummaryRow], notes: Sequence[str], baseline_file: str) -> str:
    """The report text: a methods x categories grid of "speedup× / MAT" and an overall detail table."""
    cats = _categories(table)
    cell = {(r.label, r.category): r for r in table}
    lines = [
        "# Speed report",
        "",
        f"Baseline: `{baseline_file}`. Cells: speedup× (mean per-question tokens/s over the baseline's on the same "
        "questions; ± sample std across runs when repeated) / MAT (mean tokens emitted per target forward). "
        "Methods marked (lossy) do not preserve the target distribution.",
        "",
        markdown_table(["method", *cats], ([label, *(_speed_cell(cell.get((label, c))) for c in cats)]
                                           for label in _methods(table))),
    ]
    lines += [
        "",
        "## Overall",
        "",
        "Mean tokens sits next to speed: a method that generates longer (e.g. repetitive) output than the "
        "baseline can look faster without being so. Hit limit: share of answers stopped by max_new_tokens; "
        "repeated: share of tokens inside a 4-gram said twice in one answer (method / baseline); echoed: share of "
        "first answers that stand verbatim in their prompt, a source written back untranslated (given --questions). "
        "DEGENERATE: more than half of any, for the method or its baseline: its speedup is the speed of a loop or of "
        "a copy, not of answering. "
        "chrF and BLEU (sacrebleu, method / baseline) against the question file's references, given --questions.",
        "",
        markdown_table(
            ["method", "runs", "questions", "speedup", "total-token ratio", "MAT", "mean tokens", "baseline mean tokens",
             "hit limit", "repeated", "echoed", "chrF", "BLEU", "flag"],
            (_overall_cells(r) for r in table if r.category == OVERALL),
        ),
    ]
    depths = depth_table(table)
    if depths:
        lines += ["", "## Acceptance per draft depth", "",
                  "The rate at which the draft token at depth d was accepted, given depth d-1 was (for trees, along "
                  "the accepted path): the product up to d is the chance a step gets d tokens ahead.", "",
                  depths.rstrip("\n")]
    lines += ["", "## Matched questions", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def plot_speedup(table: Sequence[SummaryRow], path: Path) -> None:
    """Grouped bars: one group per category (overall last), one bar per method, std as error bars."""
    cats, methods = _categories(table), _methods(table)
    cell = {(r.label, r.category): r for r in table}
    width = 0.8 / len(methods)
    x = np.arange(len(cats))
    # Wider figures for more bars, so labels and bars do not crowd.
    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 + len(cats) * (0.6 + 0.3 * len(methods))), 4.5))
    for i, label in enumerate(methods):
        rows = [cell.get((label, c)) for c in cats]
        heights = [r.speedup if r else 0.0 for r in rows]
        errs = [0.0 if r is None or math.isnan(r.speedup_std) else r.speedup_std for r in rows]
        # Error bars only for methods with repeated runs; zero-height caps would look like data.
        yerr = errs if any(errs) else None
        flagged = any(r is not None and r.flag for r in rows)
        bars = ax.bar(x - 0.4 + width * (i + 0.5), heights, width, yerr=yerr, capsize=3,
                      label=f"{label} (DEGENERATE)" if flagged else label)
        for bar, r in zip(bars, rows):
            if r is not None and r.flag:  # hatched: the speed of a loop or of cut answers
                bar.set_hatch("xx")
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="baseline (1.0×)")
    ax.set_xticks(x, cats, rotation=20 if len(cats) > 4 else 0, ha="right" if len(cats) > 4 else "center")
    ax.set_xlabel("category")
    ax.set_ylabel("speedup over baseline (×)")
    repeated = any(not math.isnan(r.speedup_std) for r in table)
    ax.set_title("Speedup per method and category" + (" (error bars: std over runs)" if repeated else ""))
    ax.legend(fontsize="small", ncols=min(len(methods) + 1, 4))
    ax.set_ylim(0, max([r.speedup + (0 if math.isnan(r.speedup_std) else r.speedup_std) for r in table] + [1.0]) * 1.25)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accept_lengths(results: Sequence[FileResult], path: Path) -> None:
    """Overlaid step histograms of accept lengths per method (runs pooled), as fractions of target forwards."""
    pooled = {label: [a for r in runs for a in r.accept_lengths] for label, runs in group_runs(results).items()}
    top = max([max(v) for v in pooled.values() if v] + [1])
    bins = np.arange(0.5, top + 1.5)  # one bin per integer length, shared by all methods
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, lengths in pooled.items():
        if not lengths:
            continue  # a file without recorded accept lengths has nothing to draw
        # Fractions rather than counts: methods with fewer forwards (the point of speculation) stay comparable.
        weights = np.full(len(lengths), 1.0 / len(lengths))
        mat = sum(lengths) / len(lengths)
        ax.hist(lengths, bins=bins, weights=weights, histtype="step", linewidth=1.8, label=f"{label} (MAT {mat:.2f})")
    ax.set_xlim(0.0, top + 1.0)  # margin so the outermost outline edges are not hidden by the axes
    ax.set_xticks(range(1, top + 1))
    ax.set_xlabel("tokens emitted per target forward (accept length)")
    ax.set_ylabel("fraction of target forwards")
    ax.set_title("Accept length distribution per method")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(baseline_file: str | Path, answer_files: Sequence[str | Path], out_dir: str | Path,
                 questions: str | Path | None = None) -> list[Path]:
    """Evaluates the files and writes report.md, speedup.png and accept_lengths.png into out_dir."""
    results = evaluate(baseline_file, answer_files, questions)
    table = summarize(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.md", out / "speedup.png", out / "accept_lengths.png"]
    text = render_markdown(table, match_notes(results, baseline_file), str(baseline_file))
    trained = training_data.trained_runs(results)
    plot_trained = len(trained) >= 2  # drafters or heads trained on different data: speedup against how much
    if plot_trained:
        paths.append(out / "training_data.png")
        text += ("\n## Against training data\n\nAnswer tokens in the data each drafter or head was trained on "
                 "(`evaluation.training_data`); plot in `training_data.png`.\n\n" + training_data.to_markdown(trained))
    paths[0].write_text(text, encoding="utf-8")  # before the plots: a failing plot loses no table
    plot_speedup(table, paths[1])
    plot_accept_lengths(results, paths[2])
    if plot_trained:
        training_data.plot(trained, paths[3])
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.report", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="answer file of plain decoding (method 'ar')")
    parser.add_argument("--answers", required=True, nargs="+", help="answer files of the methods to compare")
    parser.add_argument("--out-dir", required=True, help="folder for report.md and the PNG plots")
    parser.add_argument("--questions", default=None, help="question file with references: chrF and BLEU next to speed")
    args = parser.parse_args(argv)
    try:
        paths = write_report(args.baseline, args.answers, args.out_dir, args.questions)
    except ValueError as e:  # AnswerFileError included: report it without a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    run_command(main)
