"""Tables of judgments: mean score per method and language (single), win rates per pair (pairwise).

    python -m llm_judge.show outputs/judgments/single-gpt-4o.jsonl [more files] [--csv OUT.csv] [--markdown OUT.md]

Language is the question category ('translation-de' -> de). Judgments without a readable verdict are
counted, never scored. A pairwise comparison counts once per (question, turn, pair): both orders
must agree for a win; when they disagree it is a tie ('inconsistent' says how often); when either
order is missing or unreadable the comparison is left out.
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from data_processing.errors import run_command
from evaluation.jsonl_store import read_rows
from evaluation.tables import markdown_table

ALL = "all"


def language(category: str) -> str:
    return category.split("-", 1)[1] if category.startswith("translation-") else category


def single_stats(rows: Iterable[dict]) -> list[dict[str, Any]]:
    """One record per (model, language) plus (model, 'all'): mean score, n scored, n unreadable."""
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    unreadable: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        for key in ((row["models"][0], language(row["category"])), (row["models"][0], ALL)):
            if row["score"] is None:
                unreadable[key] += 1
            else:
                scores[key].append(float(row["score"]))
    keys = sorted(set(scores) | set(unreadable), key=lambda k: (k[0], k[1] == ALL, k[1]))
    return [{"model": m, "language": lang, "mean_score": sum(scores[(m, lang)]) / len(scores[(m, lang)])
             if scores[(m, lang)] else None, "n": len(scores[(m, lang)]), "unreadable": unreadable[(m, lang)]}
            for m, lang in keys]


def outcome(row: dict) -> str | None:
    """The winning model's name, 'tie', or None when the verdict is unreadable."""
    return {"A": row["models"][0], "B": row["models"][1], "C": "tie"}.get(row.get("winner") or "")


def pairwise_stats(rows: Iterable[dict]) -> list[dict[str, Any]]:
    """One record per (model, opponent, language) plus 'all': wins, ties, losses, inconsistent, win rate."""
    orders: dict[tuple, dict[tuple[str, str], str | None]] = defaultdict(dict)
    for row in rows:
        pair = tuple(sorted(row["models"]))
        orders[(row["question_id"], row["turn"], row["category"], pair)][tuple(row["models"])] = outcome(row)
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (_, _, category, (x, y)), verdicts in orders.items():
        both = [verdicts.get((x, y)), verdicts.get((y, x))]
        if None in both or len(verdicts) < 2:
            continue
        consistent = both[0] == both[1]
        result = both[0] if consistent else "tie"
        for lang in (language(category), ALL):
            for model, opponent in ((x, y), (y, x)):
                c = counts[(model, opponent, lang)]
                c["n"] += 1
                c["inconsistent"] += not consistent
                c["wins" if result == model else "ties" if result == "tie" else "losses"] += 1
    records = []
    for (model, opponent, lang), c in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] == ALL, kv[0][2])):
        records.append({"model": model, "opponent": opponent, "language": lang, "wins": c["wins"], "ties": c["ties"],
                        "losses": c["losses"], "inconsistent": c["inconsistent"], "n": c["n"],
                        "win_rate": c["wins"] / c["n"], "win_rate_ties_half": (c["wins"] + 0.5 * c["ties"]) / c["n"]})
    return records


def single_table(records: list[dict[str, Any]]) -> str:
    languages = sorted({r["language"] for r in records} - {ALL}) + [ALL]
    cell = {(r["model"], r["language"]): r for r in records}

    def fmt(r: dict | None) -> str:
        if r is None:
            return ""
        mean = "n/a" if r["mean_score"] is None else f"{r['mean_score']:.2f}"
        return f"{mean} (n={r['n']}" + (f", {r['unreadable']} unreadable)" if r["unreadable"] else ")")

    models = sorted({r["model"] for r in records})
    return markdown_table(["model"] + languages, ([m] + [fmt(cell.get((m, lang))) for lang in languages] for m in models))


def pairwise_table(records: list[dict[str, Any]]) -> str:
    return markdown_table(["model", "vs", "language", "win", "tie", "loss", "inconsistent", "n", "win rate", "win rate (ties ½)"],
                          ([r["model"], r["opponent"], r["language"], str(r["wins"]), str(r["ties"]), str(r["losses"]),
                            str(r["inconsistent"]), str(r["n"]), f"{r['win_rate']:.3f}", f"{r['win_rate_ties_half']:.3f}"]
                           for r in records))


def write_csv(path: Path, records: list[dict[str, Any]], mode: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["mode", *records[0]])
        writer.writeheader()
        writer.writerows({"mode": mode, **r} for r in records)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("judgments", nargs="+")
    parser.add_argument("--csv", default=None, help="write the records here (one CSV per mode: -single/-pairwise suffix)")
    parser.add_argument("--markdown", default=None, help="also write the tables to this file")
    args = parser.parse_args(argv)
    rows = []
    for path in args.judgments:
        if not Path(path).is_file():
            raise SystemExit(f"{path}: no such judgment file")
        rows += read_rows(path)
    parts = []
    for mode, stats, table in (("single", single_stats, single_table), ("pairwise", pairwise_stats, pairwise_table)):
        selected = [r for r in rows if r.get("mode") == mode]
        if not selected:
            continue
        records = stats(selected)
        judges = ", ".join(sorted({r["judge_model"] for r in selected}))
        parts.append(f"## {mode} judgments (judge: {judges})\n\n" + (table(records) if records else "no complete comparisons"))
        if args.csv and records:
            csv_path = Path(args.csv)
            write_csv(csv_path.with_name(f"{csv_path.stem}-{mode}{csv_path.suffix or '.csv'}"), records, mode)
    text = "\n\n".join(parts) or "no judgments"
    print(text)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    run_command(main)
