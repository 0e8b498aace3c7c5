"""How much data each trained drafter or head of a comparison learned from, and speedup and MAT against it (the
reference paper's Fig. 4: speedup grows with the log of the training tokens).

The weights a run drafted with are its method option `head` or `drafter`; the data they learned from is what their
training settings name: a `train.run` folder's `final/` keeps them in `../checkpoint/config.json`, shipped weights
in `provenance.json`. Counted are the answer tokens of that data (the measure of data volume the paper's figure
uses, not a count of loss terms): the `loss_mask` of hidden-state dumps (answer and EOS, self-distilled or
teacher-forced), the answer tokens and EOS of self-distilled ShareGPT rows, whatever a training's length cut or
draft vocabulary then left out. An `sd` drafter's pretraining on plain text is not counted (it learns the language,
not the target). Weights whose data cannot be read (moved, regenerated smaller, published) are left out.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from data_generation.feature_shards import FeatureShards
from evaluation.jsonl_store import read_rows
from evaluation.speed import FileResult
from model.common.zoo import DEFAULT_TARGET, SHIPPED, load_tokenizer, resolve
from train.tasks.drafter_lm import answer_ids
from train.tasks.features import conversation_range, data_sources

WEIGHT_OPTIONS = ("head", "drafter")


@dataclass(frozen=True)
class TrainedRun:
    name: str  # the answer file's stem, e.g. eagle2-tf-13k
    method: str
    weights: str
    answer_tokens: int
    speedup: float
    mat: float


def training_settings(weights: str) -> dict[str, Any] | None:
    """The task arguments of the training that made `weights`, or None where they are not kept with them."""
    folder = Path(resolve(weights)) if weights.startswith(SHIPPED) else Path(weights)
    for path in (folder / "provenance.json", folder.parent / "checkpoint" / "config.json"):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8")).get("task_args")
    return None


def answer_tokens(task_args: dict[str, Any]) -> int | None:
    """Answer tokens of the data a training read; None when a source is no longer on disk or is plain text."""
    total, tokenizer = 0, None
    for path, limit, skip in data_sources(task_args["data"], task_args.get("limit"), task_args.get("skip", 0)):
        if not Path(path).exists():
            return None
        if Path(path).is_dir():
            shards = FeatureShards(path)
            total += sum(int(shards.tokens(i)["loss_mask"].sum()) for i in conversation_range(path, len(shards), limit, skip))
            continue
        rows = read_rows(path)
        tokenizer = tokenizer or load_tokenizer(task_args.get("target", DEFAULT_TARGET))
        for i in conversation_range(path, len(rows), limit, skip):
            if "conversations" not in rows[i]:
                return None  # plain text: a pretraining, not counted
            total += len(answer_ids(tokenizer, rows[i]))
    return total


def trained_runs(results: Sequence[FileResult]) -> list[TrainedRun]:
    """The runs whose weights' training data can be counted, with their overall speedup and MAT."""
    runs = []
    for r in results:
        weights = next((r.options[k] for k in WEIGHT_OPTIONS if isinstance(r.options.get(k), str)), None)
        try:
            settings = training_settings(weights) if weights else None
            tokens = answer_tokens(settings) if settings else None
        except (OSError, ValueError, KeyError, TypeError):
            tokens = None  # data no longer as trained on: no point rather than a wrong one, and the report still written
        if tokens:
            runs.append(TrainedRun(Path(r.file).stem, r.method, weights, tokens, r.overall.speedup, r.overall.mat))
    return runs


def to_markdown(runs: Sequence[TrainedRun]) -> str:
    lines = ["| run | method | answer tokens trained on | speedup | MAT |", "|---|---|---|---|---|"]
    for run in sorted(runs, key=lambda run: (run.method, run.answer_tokens)):
        lines.append(f"| {run.name} | {run.method} | {run.answer_tokens:,} | {run.speedup:.2f}x | {run.mat:.2f} |")
    return "\n".join(lines) + "\n"


def plot(runs: Sequence[TrainedRun], path: Path) -> None:
    """Speedup and MAT against answer tokens (log scale), one line per method, each point named."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, field, title in ((axes[0], "speedup", "speedup over plain decoding (x)"), (axes[1], "mat", "MAT")):
        for method in dict.fromkeys(run.method for run in runs):
            mine = sorted((run for run in runs if run.method == method), key=lambda run: run.answer_tokens)
            xs, ys = [run.answer_tokens for run in mine], [getattr(run, field) for run in mine]
            ax.plot(xs, ys, marker="o", label=method)
            for run, x, y in zip(mine, xs, ys):
                if not math.isnan(y):
                    ax.annotate(run.name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="x-small")
        if field == "speedup":
            ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("answer tokens trained on (log scale)")
        ax.set_ylabel(title)
        ax.legend(fontsize="small")
    fig.suptitle("Speedup and MAT against training data")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
