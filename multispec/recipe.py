"""Recipes: a study as data, experiments/NAME/recipe.json, read and checked (the format: multispec/experiment.py).

Loading a recipe resolves its variables and included stages and checks every stage's tool and settings, so a
mistake stops the study before anything loads or runs.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_processing.errors import InputError
from multispec.options import namespace

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
RECIPE_KEYS = {"question", "questions", "languages", "settings", "quick", "stages", "comparisons", "report", "variables"}
STAGE_KEYS = {"tool", "settings", "creates", "name"}


@dataclass(frozen=True)
class Recipe:
    name: str
    question: str
    strata: dict[str, dict[str, Any]]  # stratum name (may hold {lang}) -> {"file": path, and settings such as limit}
    comparisons: dict[str, dict[str, dict[str, Any]]]
    languages: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)
    report: bool = False


def fill(value: Any, lang: str) -> Any:
    """`value` with every {lang} in its strings replaced."""
    if isinstance(value, str):
        return value.replace("{lang}", lang)
    if isinstance(value, (list, tuple)):
        return type(value)(fill(v, lang) for v in value)
    if isinstance(value, dict):
        return {fill(k, lang): fill(v, lang) for k, v in value.items()}
    return value


def names_lang(value: Any) -> bool:
    return "{lang}" in json.dumps(value)


def per_language(value: Any, languages: list[str]) -> list[tuple[str, Any]]:
    """(language, value filled for it) for every language when value names {lang}, else once as it is."""
    return [(lang, fill(value, lang)) for lang in languages] if names_lang(value) else [("", value)]


def recipe_names(root: Path = EXPERIMENTS) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/recipe.json"))


def stage_module(tool: str, where: str):
    """The module of a `multispec` tool that can run as a stage: it has build_parser() and run(args)."""
    from multispec.cli import TOOLS

    if tool not in TOOLS:
        raise InputError(f"{where}: no tool {tool!r}; tools: {', '.join(sorted(TOOLS))}")
    module = importlib.import_module(TOOLS[tool].module)
    if not (hasattr(module, "build_parser") and hasattr(module, "run")):
        raise InputError(f"{where}: tool {tool!r} has no Python entry point (build_parser, run) to run as a stage")
    return module


def strata_of(questions: Any, languages: list[str], path: Path) -> dict[str, dict[str, Any]]:
    """A recipe's questions: one file (a stratum named after the language, or none) or {stratum name: file or
    {"file": ..., settings}}."""
    if isinstance(questions, str):
        questions = {"{lang}" if "{lang}" in questions else "": questions}
    if not isinstance(questions, dict) or not questions:
        raise InputError(f"{path}: questions must be a file or an object of strata")
    strata = {}
    for name, spec in questions.items():
        spec = {"file": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict) or not isinstance(spec.get("file"), str):
            raise InputError(f"{path}: stratum {name!r} needs a question file")
        if names_lang(spec) and not languages:
            raise InputError(f"{path}: questions use {{lang}} but the recipe names no languages")
        if names_lang(spec) and "{lang}" not in name:
            raise InputError(f"{path}: stratum {name!r} reads a file per language, so its name needs {{lang}} too")
        strata[name] = spec
    return strata


def included_stages(stages: list[Any], root: Path, path: Path, variables: dict[str, str]) -> list[Any]:
    """Stages with every {"from": RECIPE, "until": STAGE NAME} replaced by that recipe's stages up to that one, or
    every {"from": RECIPE, "stages": [STAGE NAME, ...]} by those of its stages (the data another study already
    makes: the same settings, so its outputs resume rather than repeat)."""
    out = []
    for stage in stages:
        if isinstance(stage, dict) and "from" in stage:
            picked = stage.get("stages")
            if (set(stage) - {"from", "until", "stages"} or {"until", "stages"} <= set(stage) or "stages" in stage
                    and not (isinstance(picked, list) and picked and all(isinstance(name, str) for name in picked))):
                raise InputError(f"{path}: an included stage is {{\"from\": RECIPE}} with at most one of "
                                 f"\"until\": STAGE NAME or \"stages\": [STAGE NAME, ...]")
            theirs = load_recipe(stage["from"], root, variables, included=True).stages
            names = [s.get("name") for s in theirs]
            wanted = picked or ([stage["until"]] if stage.get("until") is not None else [])
            missing = [name for name in wanted if name not in names]
            if missing:
                raise InputError(f"{path}: recipe {stage['from']!r} has no stage {missing[0]!r}; its stages: {names}")
            if picked:
                out += [s for s in theirs if s.get("name") in picked]
            else:
                out += theirs[: names.index(wanted[0]) + 1] if wanted else theirs
        else:
            out.append(stage)
    return [stage for number, stage in enumerate(out) if stage not in out[:number]]  # shared data: made once


def substitute(data: Any, values: dict[str, str]) -> Any:
    """data with every {NAME} of a recipe variable replaced by its value (the JSON structure is kept)."""
    text = json.dumps(data)
    for key, value in values.items():
        text = text.replace("{" + key + "}", json.dumps(str(value))[1:-1])
    return json.loads(text)


def load_recipe(name: str, root: Path = EXPERIMENTS, variables: dict[str, str] | None = None,
                included: bool = False) -> Recipe:
    """The recipe of experiments/NAME with its `variables` (e.g. {"size": "quick"}, used as {size} in its stages) set
    to their defaults or to `variables`, checked: unknown keys, variables, stage tools and settings, empty comparisons
    and runs without a method are errors here, run settings when the runs are built (before anything loads)."""
    path = root / name / "recipe.json"
    if not path.is_file():
        raise InputError(f"no experiment {name!r} with a recipe; recipes: {', '.join(recipe_names(root)) or 'none'}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not JSON ({err})") from None
    declared = data.get("variables") or {} if isinstance(data, dict) else {}
    unknown_variables = sorted(set(variables or {}) - set(declared))
    if unknown_variables and not included:
        raise InputError(f"{path}: no variable(s) {unknown_variables}; its variables: {declared or 'none'}")
    values = {**(variables or {}), **declared, **{k: v for k, v in (variables or {}).items() if k in declared}}
    if declared:
        data = {**substitute({k: v for k, v in data.items() if k != "variables"}, values),
                "variables": declared}
    unknown = set(data) - RECIPE_KEYS if isinstance(data, dict) else set()
    if not isinstance(data, dict) or unknown or "question" not in data or not (
            {"questions", "comparisons"} <= set(data) or data.get("stages") and not {"questions", "comparisons"} & set(data)):
        raise InputError(f"{path}: a recipe is an object with question, questions, comparisons (and optionally "
                         f"languages, settings, quick, stages, report), or question and stages alone (a pipeline)"
                         f"{'; unknown: ' + ', '.join(sorted(unknown)) if unknown else ''}")
    comparisons = data.get("comparisons", {})
    if "comparisons" in data and (not isinstance(comparisons, dict) or not comparisons):
        raise InputError(f"{path}: comparisons must name at least one set of runs")
    for comparison, runs in comparisons.items():
        if not isinstance(runs, dict) or len(runs) < 2:
            raise InputError(f"{path}: comparison {comparison!r} needs a baseline and at least one other run")
        for run_name, spec in runs.items():
            if not isinstance(spec, dict) or "method" not in spec:
                raise InputError(f"{path}: run {comparison}/{run_name} needs a method")
        if next(iter(runs.values()))["method"] != "ar":
            raise InputError(f"{path}: the first run of {comparison!r} is the baseline and must be method 'ar'")
    languages = list(data.get("languages") or [])
    stages = included_stages(list(data.get("stages") or []), root, path, values)  # included: our values too
    for number, stage in enumerate(stages, 1):
        where = f"{path}: stage {number}"
        if not isinstance(stage, dict) or "tool" not in stage or set(stage) - STAGE_KEYS:
            raise InputError(f"{where}: a stage is an object with tool and settings (and optionally creates, name), "
                             f"or {{\"from\": RECIPE, \"until\": STAGE NAME}}")
        if names_lang(stage) and not languages:
            raise InputError(f"{where}: uses {{lang}} but the recipe names no languages")
        module = stage_module(stage["tool"], where)
        for _, settings in per_language(stage.get("settings") or {}, languages or [""]):
            args = namespace(module.build_parser(), settings, where)
            if hasattr(module, "check"):  # what the tool can check before anything loads (a training's config)
                try:
                    module.check(args)
                except InputError as err:
                    raise InputError(f"{where}: {err}") from None
    strata = strata_of(data["questions"], languages, path) if comparisons else {}
    return Recipe(name, data["question"], strata, comparisons, languages,
                  dict(data.get("settings") or {}), dict(data.get("quick") or {}), stages, bool(data.get("report")))
