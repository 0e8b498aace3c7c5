"""`multispec experiment NAME [--quick] [--languages L ...] [--set VAR=VALUE] [--only STAGE] [--comparison C] ...`:
a study end to end from its recipe, experiments/NAME/recipe.json.

A recipe is data: the study's question; the stages that make its data and weights (any tool of `multispec --help`
that has a Python entry point, e.g. distill, hidden-states, train, calibrate-tree, ship, data-translation, with its
settings by option name); its question files, one per stratum; and its comparisons, each a set of named runs whose
first is plain decoding, the baseline of the others. `{lang}` anywhere stands for each of `languages`: a stage
naming it runs once per language, a question stratum naming it is one stratum per language. A recipe may declare
`variables` with defaults (e.g. {"size": "quick"}, used as {size} in a training config's path; `--set size=full`),
and include another recipe's stages ({"from": "features"}, optionally "until": a stage name, or "stages": a list of
its stage names): a stage included twice runs once. `--only STAGE` runs just that stage, e.g. a training under
`accelerate launch -m multispec experiment NAME --only STAGE` (every process runs it: DDP); a recipe of stages
alone is a pipeline. `--comparison C` answers and tabulates just that comparison (to OUT/results-C.md), e.g. a new
one next to older ones whose answer files record weights shipped before (the runner refuses to mix those).

    {"question": "...", "languages": ["de", "fr"], "settings": {"max_new_tokens": 64}, "quick": {"limit": 3},
     "stages": [{"tool": "distill", "settings": {"prompts": "data/train/{lang}.jsonl", "out": "d/{lang}.jsonl"}},
                {"tool": "train", "settings": {"config": "train/configs/eagle_quick.json", "resume": true,
                                               "overrides": {"output_dir": "o/{lang}", "steps": 600}},
                 "creates": "o/{lang}/final"}],
     "questions": {"{lang}": "data/questions/translation_{lang}.jsonl",
                   "{lang}-long": {"file": "data/questions/translation_{lang}_long.jsonl", "limit": 10}},
     "comparisons": {"NAME": {"ar": {"method": "ar"},
                              "eagle2": {"method": "eagle2", "options": {"head": "o/{lang}/final"},
                                         "cpu_options": {"total_tokens": 10}}}},
     "report": true}

A run is a method, its `options` (the method's Config fields) and any other evaluation.run setting by name. Without
a GPU a method starts from the options its registry entry measured for CPUs (small draft trees), and a run's
`cpu_options` apply there last. A run whose weights are `embedded:LANG/...` and not shipped for that
language is left out there, with a note. Every run of a stratum answers a question before the next question starts,
on one loaded target, so machine drift falls on all of them alike. Every stage and answer file resumes (a stage with
`creates` is skipped once that path exists), so rerunning finishes what is missing. Tables (speed and MAT,
degenerate-run flags, chrF/BLEU, acceptance per draft depth) go to OUT/results.md per stratum and comparison, stage
wall times to OUT/stages.log, and with `"report": true` the report over all strata (table and plots) to
OUT/report/COMPARISON/. `--quick` applies the recipe's "quick" settings (fewer questions) to the comparisons, in
their own folder; the stages run as they are (they write shared data and weights, and resume).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import time
from pathlib import Path
from typing import Any

import torch

from data_processing.errors import InputError
from evaluation import report, run, side_by_side, speed
from evaluation.environment import git_commit
from model.common.zoo import SHIPPED, ModelNotFound, shipped_weights
from model.registry import METHODS
from multispec.options import namespace
from multispec.recipe import EXPERIMENTS, Recipe, fill, load_recipe, per_language, recipe_names, stage_module

RUN_KEYS_OF_OURS = {"method", "options", "cpu_options"}  # a run's keys that are not evaluation.run settings
TARGET_SETTINGS = ("target", "dtype", "device", "device_map", "attn_implementation", "quantize_target")


def question_file(path: str) -> str:
    """Recipes name files relative to the repository; a path that exists from here wins."""
    return path if Path(path).exists() or not (EXPERIMENTS.parent / path).exists() else str(EXPERIMENTS.parent / path)


def gpu_decodes(settings: dict[str, Any]) -> bool:
    device = settings.get("device")
    return str(device).startswith("cuda") if device else torch.cuda.is_available()


def missing_weights(options: dict[str, Any]) -> str | None:
    """The first `embedded:` weights named in options that are not shipped, else None."""
    for value in options.values():
        if isinstance(value, str) and value.startswith(SHIPPED):
            try:
                shipped_weights(value)
            except ModelNotFound:
                return value
    return None


def build_runs(recipe: Recipe, questions: str, folder: Path, shared: dict[str, Any], lang: str,
               notes: list[str]) -> dict[str, tuple]:
    """evaluation.run settings for every run of every comparison, answer files under folder/COMPARISON/RUN.jsonl;
    runs without their shipped weights are left out, with a line in notes."""
    runs = {}
    on_gpu = gpu_decodes(shared)
    for comparison, named in recipe.comparisons.items():
        for run_name, spec in named.items():
            spec = fill(spec, lang)
            options = dict(spec.get("options", {}))
            if not on_gpu:  # the sizes measured for CPUs (registry), then the run's own, then its own for CPUs
                method = METHODS.get(spec["method"])
                options = {**(method.cpu_options if method else {}), **options, **spec.get("cpu_options", {})}
            absent = missing_weights(options)
            if absent:
                notes.append(f"{folder.name}: `{run_name}` left out, no shipped weights {absent}")
                continue
            settings = {k: v for k, v in spec.items() if k not in RUN_KEYS_OF_OURS}
            runs[f"{comparison}/{run_name}"] = run.settings(spec["method"], questions,
                                                            folder / comparison / f"{run_name}.jsonl", options,
                                                            **{**shared, **settings})
    return runs


def check_named(recipe: Recipe, kind: str, asked: list[str], names: list[str | None]) -> None:
    """Stages or comparisons asked for by name must be the recipe's; the error lists the names it has."""
    unknown = sorted(set(asked) - set(names))
    if unknown:
        raise InputError(f"recipe {recipe.name!r} has no {kind}(s) {unknown}; its {kind}s: {names}")


def run_stages(recipe: Recipe, languages: list[str], log: Path, only: list[str] | None = None) -> None:
    """Every stage in order (or those named in `only`), per language where it names {lang}; each tool resumes its own
    work, and a stage whose `creates` path exists is skipped. Wall times go to log."""
    check_named(recipe, "stage", only or [], [stage.get("name") for stage in recipe.stages])
    for number, stage in enumerate(recipe.stages, 1):
        if only and stage.get("name") not in only:
            continue
        module = stage_module(stage["tool"], f"stage {number}")
        for lang, filled in per_language(stage, languages):
            title = (filled.get("name") or stage["tool"]) + (f" [{lang}]" if lang else "")
            if filled.get("creates") and Path(filled["creates"]).exists():
                print(f"[experiment] stage {number} ({title}): {filled['creates']} exists, skipped", flush=True)
                continue
            print(f"[experiment] stage {number} ({title})", flush=True)
            start = time.perf_counter()
            module.run(namespace(module.build_parser(), filled.get("settings") or {}, f"stage {number} ({title})"))
            line = f"stage {number} ({title}): {time.perf_counter() - start:.0f} s"
            print(f"[experiment] {line}", flush=True)
            with log.open("a", encoding="utf-8") as out:
                out.write(f"{datetime.datetime.now().isoformat(timespec='seconds')} {line}\n")


def concatenate(files: list[Path], out: Path) -> Path:
    """The rows of files, in order, as one file (a report over strata)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f.read_text(encoding="utf-8") for f in files if f.exists()), encoding="utf-8")
    return out


def plan(recipe: Recipe, out: Path, quick: bool = False, languages: list[str] | None = None
         ) -> tuple[dict[str, dict[str, tuple]], list[str]]:
    """{stratum: its runs' evaluation.run settings} for every stratum, and notes on runs left out; checks every
    setting before anything loads."""
    languages = languages or recipe.languages
    strata = {name: (spec, lang) for raw, spec0 in recipe.strata.items()
              for lang, (name, spec) in per_language((raw, spec0), languages)}
    notes: list[str] = []
    plans = {}
    for name, (spec, lang) in strata.items():
        settings = {k: v for k, v in spec.items() if k != "file"}
        shared = {**recipe.settings, **settings, **(recipe.quick if quick else {})}
        plans[name] = build_runs(recipe, question_file(spec["file"]), out / name, shared, lang, notes)
    return plans, notes


def run_experiment(recipe: Recipe, quick: bool = False, out_dir: str | Path | None = None,
                   languages: list[str] | None = None, only: list[str] | None = None,
                   comparisons: list[str] | None = None) -> Path | None:
    """Run the stages, answer every comparison side by side per stratum and write results.md; returns its path.
    With `only`, just those stages run (e.g. one training under `accelerate launch`), and None is returned. With
    `comparisons`, just those are answered, into results-NAME[+NAME].md, so the full run's results.md stays."""
    out = Path(out_dir or Path("outputs/experiments") / (recipe.name + ("-quick" if quick else "")))
    if comparisons:
        check_named(recipe, "comparison", comparisons, list(recipe.comparisons))
        recipe = dataclasses.replace(recipe, comparisons={name: recipe.comparisons[name] for name in comparisons})
    out.mkdir(parents=True, exist_ok=True)
    languages = languages or recipe.languages
    plan(recipe, out, quick, languages)  # every run setting checked before hours of stages
    run_stages(recipe, languages, out / "stages.log", only)
    if only:
        return None
    plans, notes = plan(recipe, out, quick, languages)  # again: the stages may have shipped weights
    loaded, loaded_as = None, None
    sections = []
    for name, runs in plans.items():
        if not runs:
            continue
        args = next(iter(runs.values()))[0]
        target = tuple(getattr(args, key) for key in TARGET_SETTINGS)
        if loaded is not None and target != loaded_as:
            loaded = None  # this stratum sets another target, dtype or device
        # the target loads once, and only if needed; once it has answered, later strata warm up less
        warm = loaded is not None
        loaded = side_by_side.answer_side_by_side(runs, loaded, warm=warm)
        loaded_as = target
        for comparison, named in recipe.comparisons.items():
            present = [n for n in named if f"{comparison}/{n}" in runs]
            if len(present) < 2 or present[0] != next(iter(named)):
                continue  # nothing to compare with the baseline here (every other run left out)
            files = [out / name / comparison / f"{n}.jsonl" for n in present]
            results = speed.evaluate(files[0], files[1:], args.questions)
            title = f"{name}: {comparison}" if name else comparison
            sections.append(f"## {title}\n\nBaseline `{present[0]}`; runs: "
                            + ", ".join(f"`{n}` = {json.dumps(named[n])}" for n in present)
                            + "\n\n" + speed.to_markdown(speed.summarize(results)))
    if recipe.report:
        for comparison, named in recipe.comparisons.items():
            combined = out / "all" / comparison
            questions = concatenate([Path(next(iter(runs.values()))[0].questions) for runs in plans.values() if runs],
                                    combined / "questions.jsonl")
            files = [concatenate([out / s / comparison / f"{n}.jsonl" for s in plans], combined / f"{n}.jsonl")
                     for n in named]
            paths = report.write_report(files[0], [f for f in files[1:] if f.stat().st_size], out / "report" / comparison,
                                        questions)
            sections.append(f"## All strata: {comparison}\n\nReport and plots in `{paths[0].parent}`.\n\n"
                            + paths[0].read_text(encoding="utf-8"))
    if not recipe.comparisons and (out / "stages.log").exists():
        sections.append("Stages (wall time, newest last):\n\n```\n" + (out / "stages.log").read_text(encoding="utf-8")
                        + "```")
    results_md = out / ("results-" + "+".join(comparisons) + ".md" if comparisons else "results.md")
    results_md.write_text(f"# {recipe.name}{' (quick)' if quick else ''}\n\n**Question.** {recipe.question}\n\n"
                          f"Run {datetime.date.today().isoformat()} at commit {(git_commit() or 'unknown')[:7]} with "
                          f"settings {json.dumps({**recipe.settings, **(recipe.quick if quick else {})})}"
                          f"{' on languages ' + ' '.join(languages) if languages else ''}.\n\n"
                          + "".join(f"- {note}\n" for note in notes) + ("\n" if notes else "")
                          + "\n\n".join(sections) + "\n", encoding="utf-8")
    return results_md


def variable(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {item!r}")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="multispec experiment", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", help=f"one of: {', '.join(recipe_names())}; or a folder holding a recipe.json")
    parser.add_argument("--quick", action="store_true", help="the recipe's quick settings: a smoke run")
    parser.add_argument("--languages", nargs="+", default=None, help="these languages instead of the recipe's")
    parser.add_argument("--set", action="append", type=variable, default=[], metavar="NAME=VALUE",
                        help="a recipe variable (e.g. size=full for the full training configs), repeatable")
    parser.add_argument("--only", action="append", default=None, metavar="STAGE",
                        help="run just this stage (repeatable), no comparisons: e.g. a training under "
                             "`accelerate launch -m multispec experiment NAME --only STAGE`")
    parser.add_argument("--comparison", action="append", default=None, metavar="NAME",
                        help="answer and tabulate just this comparison (repeatable), into OUT/results-NAME.md")
    parser.add_argument("--out-dir", default=None, help="default: outputs/experiments/NAME[-quick]")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.name is None:  # the list, each with its question
        width = max(map(len, recipe_names()))
        for name in recipe_names():
            question = json.loads((EXPERIMENTS / name / "recipe.json").read_text(encoding="utf-8"))["question"]
            print(f"{name:<{width}}  {question if len(question) <= 100 else question[:97] + '...'}")
        return 0
    folder = Path(args.name)  # a study folder of one's own (holding recipe.json) works as well as a name
    root, name = (folder.parent, folder.name) if (folder / "recipe.json").is_file() else (EXPERIMENTS, args.name)
    recipe = load_recipe(name, root, variables=dict(args.set))
    results_md = run_experiment(recipe, args.quick, args.out_dir, args.languages, args.only, args.comparison)
    if results_md is not None:
        print(results_md.read_text(encoding="utf-8"))
        print(f"[multispec] written to {results_md}")
    return 0
