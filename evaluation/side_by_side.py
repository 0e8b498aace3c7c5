"""Several configurations answered side by side, question by question, on ONE loaded target.

    python -m evaluation.side_by_side --questions Q.jsonl --out-dir DIR [--limit N] [--max-new-tokens N]
        [--target T] [--dtype D]
        --run ar="--method ar" \\
        --run eagle2-6="--method eagle2 --head H --total-tokens 6 --depth 3 --top-k 2" ...
        [any other evaluation.run option, e.g. --temperature 0.7: given to every run; a run's own wins]

Every question is answered by every configuration before the next question starts, so machine drift
(on this project's shared CPUs plain decoding moved by up to 30 % within one benchmark) falls on all
configurations alike, and the target is loaded once. Each configuration writes DIR/NAME.jsonl in
evaluation.run's format (a rerun resumes; a changed configuration under an old name is refused), and
the speed table (evaluation.speed, also saved to DIR/speed.md) compares every run with the first,
which should be plain decoding.
"""
from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from data_processing.errors import InputError, positive_int, run_command
from evaluation import speed
from evaluation.run import AnswerRun, parse_args
from model.common.zoo import load_model
from multispec.options import add_generation_options, add_target_options

# what every configuration answered side by side shares: one loaded target, one question set, one length limit
SHARED_SETTINGS = ("questions", "target", "dtype", "device", "device_map", "attn_implementation", "limit",
                   "max_new_tokens", "quantize_target")
SHARED = ("--out", *("--" + key.replace("_", "-") for key in SHARED_SETTINGS))  # the same, as run options


def parse_runs(items: list[str]) -> dict[str, list[str]]:
    """NAME="evaluation.run arguments" pairs, in order; the shared options may not appear in them."""
    runs: dict[str, list[str]] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec.strip():
            raise SystemExit(f'--run {item!r}: expected NAME="--method M [options]"')
        if name in runs:
            raise SystemExit(f"--run {name!r} given twice")
        argv = shlex.split(spec)
        clash = [a for a in argv if a.split("=")[0] in SHARED]
        if clash:
            raise SystemExit(f"--run {name!r}: {clash} are shared by all runs (one target, one question set); "
                             f"pass them once, outside --run")
        runs[name] = argv
    return runs



def answer_side_by_side(runs: dict[str, tuple[argparse.Namespace, dict[str, Any]]],
                        loaded: tuple | None = None, warm: bool = False) -> tuple | None:
    """Answer every question with every configuration (evaluation.run settings, e.g. from `run.settings`) before
    the next question, on one target (`loaded`, or loaded here only when something is left to answer); each run
    writes and resumes its own --out. Returns the (model, tokenizer) used, for the caller's next batch of runs."""
    first = next(iter(runs.values()))[0]
    for name, (args, _) in runs.items():
        differing = [key for key in SHARED_SETTINGS if getattr(args, key) != getattr(first, key)]
        if differing:
            raise InputError(f"run {name!r}: {differing} must be the same for every run side by side")
    with contextlib.ExitStack() as stack:
        answer_runs = {name: stack.enter_context(AnswerRun(run_settings=settings)) for name, settings in runs.items()}
        pending = {name: dict(run.todo) for name, run in answer_runs.items() if run.todo}
        if not pending:
            return loaded
        loaded = loaded or load_model(first.target, dtype=first.dtype, device=first.device, device_map=first.device_map,
                                      attn_implementation=first.attn_implementation)
        for name in pending:
            # a warm target (it answered with these methods before in this process, e.g. an earlier stratum): one
            # warm-up per run, for its drafter's first calls, instead of the full --warmup
            answer_runs[name].start(loaded, warmup=min(1, answer_runs[name].args.warmup) if warm else None)
        questions = next(iter(answer_runs.values())).questions
        for index in tqdm(sorted({i for todo in pending.values() for i in todo}),
                          desc=f"{len(pending)} runs side by side", unit="q"):
            for name, todo in pending.items():
                if index in todo:
                    answer_runs[name].answer(index, questions[index])
    return loaded


def speed_table(files: dict[str, Path]) -> str:
    """The speed table of every file against the first (plain decoding); match notes go to stderr."""
    names = list(files)
    results = speed.evaluate(files[names[0]], [files[n] for n in names[1:]])
    for note in speed.match_notes(results, files[names[0]]):
        print(note, file=sys.stderr)
    return speed.to_markdown(speed.summarize(results))


def main(argv: list[str] | None = None, loaded: tuple | None = None) -> str:
    """`loaded`: a (model, tokenizer) already in memory, used instead of loading --target."""
    parser = argparse.ArgumentParser(prog="python -m evaluation.side_by_side", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--run", action="append", required=True, metavar='NAME="--method M ..."',
                        help="one configuration (repeatable); the first is the speed baseline")
    parser.add_argument("--limit", type=positive_int, default=None)
    add_target_options(parser)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--device-map", default=None, help="split a big target across GPUs (e.g. auto)")
    parser.add_argument("--attn-implementation", default=None, choices=["sdpa", "eager", "flash_attention_2"])
    args, common = parser.parse_known_args(argv)
    specs = parse_runs(args.run)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shared = {key: getattr(args, key) for key in SHARED_SETTINGS if key in vars(args)}
    files = {name: out / f"{name}.jsonl" for name in specs}
    answer_side_by_side({name: parse_args([*common, *spec], **shared, out=str(files[name]))
                         for name, spec in specs.items()}, loaded)
    names = list(specs)
    if len(names) == 1:
        return ""
    report = (f"Baseline `{names[0]}`; runs: " + ", ".join(f"`{n}` = {shlex.join(specs[n])}" for n in names) + "\n\n"
              + speed_table(files))
    (out / "speed.md").write_text(report)
    print(report)
    return report


if __name__ == "__main__":
    run_command(main)
