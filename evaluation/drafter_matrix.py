"""Language x drafter matrix: every drafter on every language's questions, MAT and speedup against `ar`,
and how a language's own (specialized) drafter compares with a generic one.

    python -m evaluation.drafter_matrix --drafters de=PATH fr=PATH ... generic=PATH --langs de fr ja ru zh \
        --out-dir outputs/specialized [--generic generic] [--questions 'data/questions/translation_{lang}.jsonl']
        [--limit 20] [--gamma 4] [--max-new-tokens 128] [--target gemma-3-270m] [--dtype auto]
        [--method sd|eagle|eagle2|medusa|hydra|ctc] [--method-args='--total-tokens 20']

A drafter is an `sd` draft model (--drafter PATH, with --gamma) or, for the head methods, a trained head
(--head PATH); --method-args go to every run of the method (e.g. one static tree --tree FILE shared by
all heads for eagle/medusa/hydra, or eagle2's --total-tokens).

The target is loaded once. Per language, `ar` and every drafter answer side by side, question by
question (evaluation.side_by_side), so machine drift hits all drafters alike. Rerunning resumes.
Writes matrix.md (one table for MAT and one for speedup, plus the specialized/generic ratios when
--generic names a drafter and other drafters are named after languages), matrix.json and matrix.png
(two heat maps) to --out-dir.
"""
from __future__ import annotations

import argparse
import json
import shlex
from functools import partial
from pathlib import Path
from typing import Any, Callable

from data_processing.errors import InputError
from evaluation import side_by_side
from evaluation.answers import load_answers
from evaluation.run import method_options_parser, settings
from evaluation.speed import evaluate_file
from evaluation.tables import markdown_table
from model.common.zoo import load_model
from model.registry import METHODS
from multispec.options import add_generation_options, add_target_options

METRICS = ("MAT", "speedup")
HEAD_METHODS = tuple(name for name, method in METHODS.items() if method.weights == "head")


def parse_drafters(items: list[str]) -> dict[str, str]:
    drafters = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--drafters takes NAME=PATH items, got {item!r}")
        if name in drafters or name == "ar":
            raise InputError(f"drafter name {name!r} is used twice or reserved")
        drafters[name] = path
    return drafters


def answer_file(out: Path, lang: str, name: str) -> Path:
    return out / lang / f"{name}.jsonl"


def method_options(method: str, path: str, gamma: int, extra: dict[str, Any]) -> dict[str, Any]:
    """The method's options for drafting with the drafter or head at `path` (and `extra`, e.g. a tree size)."""
    if method == "sd":
        return {"drafter": path, "gamma": gamma, **extra}
    return {"head": path, **extra}


def run_all(drafters: dict[str, str], langs: list[str], questions: str, out: Path, method: str,
            drafting: Callable[[str], dict[str, Any]], shared: dict[str, Any], loaded: tuple) -> None:
    """Per language, `ar` and `method` with every drafter side by side; `drafting(path)`: the method's options for the
    drafter at `path`; `shared`: evaluation.run settings for every run (limit, max_new_tokens, ...)."""
    for lang in langs:
        source = questions.format(lang=lang)
        runs = {"ar": settings("ar", source, answer_file(out, lang, "ar"), **shared)}
        for name, path in drafters.items():
            runs[name] = settings(method, source, answer_file(out, lang, name), drafting(path), **shared)
        side_by_side.answer_side_by_side(runs, loaded)


def measure(drafters: dict[str, str], langs: list[str], out: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{lang: {drafter: {"MAT": .., "speedup": ..}}}"""
    cells: dict[str, dict[str, dict[str, float]]] = {}
    for lang in langs:
        base = load_answers(answer_file(out, lang, "ar"))
        cells[lang] = {}
        for name in drafters:
            file = answer_file(out, lang, name)
            overall = evaluate_file(base, load_answers(file), str(file)).overall
            cells[lang][name] = {"MAT": overall.mat, "speedup": overall.speedup}
    return cells


def specialization(cells: dict[str, dict[str, dict[str, float]]], generic: str) -> list[dict[str, float | str]]:
    """Per language with its own drafter: own / generic for MAT and speedup."""
    rows = []
    for lang, row in cells.items():
        if lang in row and generic in row:
            rows.append({"lang": lang, **{f"{m}_own": row[lang][m] for m in METRICS},
                         **{f"{m}_generic": row[generic][m] for m in METRICS},
                         **{f"{m}_ratio": row[lang][m] / row[generic][m] for m in METRICS}})
    return rows


def render(cells: dict[str, dict[str, dict[str, float]]], special: list[dict], generic: str | None,
           method: str = "sd") -> str:
    names = list(next(iter(cells.values())))
    parts = []
    for metric in METRICS:
        suffix = "×" if metric == "speedup" else ""
        body = [[lang, *(f"{row[n][metric]:.2f}{suffix}" for n in names)] for lang, row in cells.items()]
        parts.append(f"### {metric} of {method} (rows: language of the questions, columns: drafter)\n\n"
                     + markdown_table(["language", *names], body))
    if special:
        body = [[r["lang"], *(f"{r[f'{m}_own']:.2f} / {r[f'{m}_generic']:.2f} = {r[f'{m}_ratio']:.2f}" for m in METRICS)]
                for r in special]
        parts.append(f"### own-language drafter / {generic}\n\n" + markdown_table(["language", *METRICS], body))
    return "\n\n".join(parts) + "\n"


def plot(cells: dict[str, dict[str, dict[str, float]]], path: Path, method: str = "sd") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs, names = list(cells), list(next(iter(cells.values())))
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.5 * len(METRICS), 0.5 * len(langs) + 1.8))
    for ax, metric in zip(axes, METRICS):
        grid = [[cells[lang][n][metric] for n in names] for lang in langs]
        image = ax.imshow(grid, cmap="viridis")
        middle = (min(map(min, grid)) + max(map(max, grid))) / 2  # dark text on viridis' light upper half
        for i, values in enumerate(grid):
            for j, value in enumerate(values):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="black" if value > middle else "white",
                        fontsize=8)
        ax.set_xticks(range(len(names)), names, rotation=30)
        ax.set_yticks(range(len(langs)), langs)
        ax.set_xlabel("drafter")
        ax.set_ylabel("questions")
        ax.set_title(f"{method} {metric}")
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drafters", nargs="+", required=True,
                        help="NAME=PATH (an sd draft model, or a head for the head methods); name a specialized "
                             "drafter by its language")
    parser.add_argument("--method", default="sd", choices=("sd", *HEAD_METHODS))
    parser.add_argument("--method-args", default="", help="more evaluation.run arguments for every drafter run")
    parser.add_argument("--langs", nargs="+", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--generic", default=None, help="drafter name the language-named drafters are compared with")
    parser.add_argument("--questions", default="data/questions/translation_{lang}.jsonl", help="path with {lang}")
    add_target_options(parser, device=False)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--gamma", type=int, default=4, help="draft length of sd")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up answers per run (the target stays loaded)")
    return parser


def run(args: argparse.Namespace) -> dict:
    drafters = parse_drafters(args.drafters)
    if args.generic is not None and args.generic not in drafters:
        raise InputError(f"--generic {args.generic!r} is not one of the drafters {sorted(drafters)}")
    for lang in args.langs:
        if not Path(args.questions.format(lang=lang)).is_file():
            raise InputError(f"no question file {args.questions.format(lang=lang)} for language {lang!r}")
    out = Path(args.out_dir)
    shared = {"target": args.target, "max_new_tokens": args.max_new_tokens, "dtype": args.dtype,
              "warmup": args.warmup, "limit": args.limit}
    # --method-args is typed by the user as evaluation.run's method options: read by that method's own parser
    method_parser = method_options_parser(args.method)
    extra = {key: value for key, value in vars(method_parser.parse_args(shlex.split(args.method_args))).items()
             if value != method_parser.get_default(key)}  # only what was typed
    loaded = load_model(args.target, dtype=args.dtype)
    drafting = partial(method_options, args.method, gamma=args.gamma, extra=extra)
    run_all(drafters, args.langs, args.questions, out, args.method, drafting, shared, loaded)
    cells = measure(drafters, args.langs, out)
    special = specialization(cells, args.generic) if args.generic else []
    text = render(cells, special, args.generic, args.method)
    (out / "matrix.md").write_text(text, encoding="utf-8")
    (out / "matrix.json").write_text(json.dumps({"cells": cells, "specialization": special, "drafters": drafters,
                                                 "method": args.method, "method_args": args.method_args,
                                                 "gamma": args.gamma, "limit": args.limit}, indent=1), encoding="utf-8")
    plot(cells, out / "matrix.png", args.method)
    print(text)
    return {"cells": cells, "specialization": special}


def main(argv: list[str] | None = None) -> dict:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
