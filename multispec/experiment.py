"""`multispec experiment NAME [--quick] [--out-dir DIR]`: run a study from its recipe, experiments/NAME/recipe.json.

A recipe is data: the study's question, its question file (`{lang}` stands for each of `languages`), the
evaluation.run settings every run shares, and one or more comparisons, each a set of named runs whose first is
plain decoding, the baseline of the others. Every run of every comparison answers a question before the next
question starts, on one loaded target, so machine drift falls on all of them alike; answer files resume after an
interruption, so rerunning finishes what is missing. The tables (speed and MAT, degenerate-run flags, chrF/BLEU,
acceptance per draft depth) go to OUT/results.md, per language and comparison. `--quick` applies the recipe's
"quick" settings (fewer questions) for a smoke run in its own folder.

    {"question": "...", "questions": "data/questions/translation_{lang}.jsonl", "languages": ["de", "fr"],
     "settings": {"max_new_tokens": 64}, "quick": {"limit": 3},
     "comparisons": {"NAME": {"ar": {"method": "ar"}, "pld": {"method": "pld", "options": {"max_ngram": 2}}}}}

A run is a method, its `options` (the method's Config fields) and any other evaluation.run setting by name
(e.g. "chat_template": "plain"). Studies that train weights first are not recipes yet; their READMEs give their
scripts.
"""
from __future__ import annotations

import argparse
import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_processing.errors import InputError
from evaluation import run, side_by_side, speed
from evaluation.environment import git_commit

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
RECIPE_KEYS = {"question", "questions", "languages", "settings", "quick", "comparisons"}


@dataclass(frozen=True)
class Recipe:
    name: str
    question: str
    questions: str  # path, with {lang} when languages are given
    comparisons: dict[str, dict[str, dict[str, Any]]]
    languages: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)


def recipe_names(root: Path = EXPERIMENTS) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/recipe.json"))


def load_recipe(name: str, root: Path = EXPERIMENTS) -> Recipe:
    """The recipe of experiments/NAME, checked: unknown keys, empty comparisons and runs without a method are errors
    here, settings and options when the runs are built (before anything loads)."""
    path = root / name / "recipe.json"
    if not path.is_file():
        raise InputError(f"no experiment {name!r} with a recipe; recipes: {', '.join(recipe_names(root)) or 'none'}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not JSON ({err})") from None
    unknown = set(data) - RECIPE_KEYS if isinstance(data, dict) else set()
    if not isinstance(data, dict) or unknown or not {"question", "questions", "comparisons"} <= set(data):
        raise InputError(f"{path}: a recipe is an object with question, questions, comparisons (and optionally "
                         f"languages, settings, quick){'; unknown: ' + ', '.join(sorted(unknown)) if unknown else ''}")
    comparisons = data["comparisons"]
    if not isinstance(comparisons, dict) or not comparisons:
        raise InputError(f"{path}: comparisons must name at least one set of runs")
    for comparison, runs in comparisons.items():
        if not isinstance(runs, dict) or len(runs) < 2:
            raise InputError(f"{path}: comparison {comparison!r} needs a baseline and at least one other run")
        for run_name, spec in runs.items():
            if not isinstance(spec, dict) or "method" not in spec:
                raise InputError(f"{path}: run {comparison}/{run_name} needs a method")
        if next(iter(runs.values()))["method"] != "ar":
            raise InputError(f"{path}: the first run of {comparison!r} is the baseline and must be method 'ar'")
    if "{lang}" in data["questions"] and not data.get("languages"):
        raise InputError(f"{path}: questions has {{lang}} but the recipe names no languages")
    return Recipe(name, data["question"], data["questions"], comparisons, list(data.get("languages") or []),
                  dict(data.get("settings") or {}), dict(data.get("quick") or {}))


def build_runs(recipe: Recipe, questions: str, folder: Path, shared: dict[str, Any]) -> dict[str, tuple]:
    """evaluation.run settings for every run of every comparison, answer files under folder/COMPARISON/RUN.jsonl."""
    runs = {}
    for comparison, named in recipe.comparisons.items():
        for run_name, spec in named.items():
            spec = dict(spec)
            method, options = spec.pop("method"), spec.pop("options", {})
            runs[f"{comparison}/{run_name}"] = run.settings(method, questions, folder / comparison / f"{run_name}.jsonl",
                                                            options, **{**shared, **spec})
    return runs


def question_file(path: str) -> str:
    """Recipes name files relative to the repository; a path that exists from here wins."""
    return path if Path(path).exists() or not (EXPERIMENTS.parent / path).exists() else str(EXPERIMENTS.parent / path)


def run_experiment(recipe: Recipe, quick: bool = False, out_dir: str | Path | None = None) -> Path:
    """Answer every comparison side by side per language and write results.md; returns its path."""
    out = Path(out_dir or Path("outputs/experiments") / (recipe.name + ("-quick" if quick else "")))
    shared = {**recipe.settings, **(recipe.quick if quick else {})}
    languages = recipe.languages or [""]
    plans = {lang: build_runs(recipe, question_file(recipe.questions.format(lang=lang)), out / lang, shared)
             for lang in languages}
    loaded = None
    sections = []
    for lang, runs in plans.items():
        args = next(iter(runs.values()))[0]
        loaded = side_by_side.answer_side_by_side(runs, loaded)  # the target loads once, and only if needed
        for comparison, named in recipe.comparisons.items():
            files = [out / lang / comparison / f"{n}.jsonl" for n in named]
            results = speed.evaluate(files[0], files[1:], args.questions)
            title = f"{lang}: {comparison}" if lang else comparison
            sections.append(f"## {title}\n\nBaseline `{list(named)[0]}`; runs: "
                            + ", ".join(f"`{n}` = {json.dumps(spec)}" for n, spec in named.items())
                            + "\n\n" + speed.to_markdown(speed.summarize(results)))
    report = out / "results.md"
    report.write_text(f"# {recipe.name}{' (quick)' if quick else ''}\n\n**Question.** {recipe.question}\n\n"
                      f"Run {datetime.date.today().isoformat()} at commit {(git_commit() or 'unknown')[:7]} with settings "
                      f"{json.dumps(shared)}.\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multispec experiment", description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", help=f"one of: {', '.join(recipe_names())}")
    parser.add_argument("--quick", action="store_true", help="the recipe's quick settings: a smoke run")
    parser.add_argument("--out-dir", default=None, help="default: outputs/experiments/NAME[-quick]")
    args = parser.parse_args(argv)
    if args.name is None:
        print("experiments with a recipe: " + ", ".join(recipe_names()))
        return 0
    report = run_experiment(load_recipe(args.name), args.quick, args.out_dir)
    print(report.read_text(encoding="utf-8"))
    print(f"[multispec] written to {report}")
    return 0
