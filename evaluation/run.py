"""Run one method over a Spec-Bench question file and append one answer row per question.

    python -m evaluation.run --method pld --target gemma-3-270m --questions Q.jsonl --out A.jsonl
        [--drafter PATH] [--max-new-tokens N] [--temperature T] [--top-p P] [--typical] [--dtype D] [--limit N] [--seed S]
        [method options, e.g. --gamma 5 --adaptive for sd: see --method M --help]

Rerunning the same command resumes: questions already in --out are skipped, a truncated last row
is dropped. Timing: 3 warm-up runs on the first question (discarded); wall time includes prefill.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

from tqdm import tqdm

from data_processing.errors import InputError, non_negative_float, positive_int, run_command
from data_processing.questions import load_questions, stop_argument
from evaluation.environment import environment
from evaluation.jsonl_store import JsonlStore, OutputFileError
from evaluation.prompting import Prompt, PromptFormat, build_prompt, describe, resolve_format
from evaluation.session import Session
from model.common.accept import AcceptConfig
from model.common.heads import local_head
from model.common.zoo import load_tokenizer
from model.registry import METHODS, method_config, method_module
from multispec.options import add_generation_options, add_target_options, namespace

WARMUP_RUNS = 3


def method_options_parser(method: str) -> argparse.ArgumentParser:
    """CLI flags generated from the method's Config dataclass (one flag per field)."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group(f"options of method {method!r}")
    for field in dataclasses.fields(method_module(method).Config):
        flag = "--" + field.name.replace("_", "-")
        if field.type in ("bool", bool):
            group.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=field.default)
        else:
            kind = {"int": int, "float": float}.get(str(field.type), str)
            group.add_argument(flag, dest=field.name, type=kind, default=field.default)
    return parser


def parse_args(argv: list[str] | None, **given: Any) -> tuple[argparse.Namespace, dict[str, Any]]:
    """A run's settings from its command line; `given`: settings the caller fixes (side_by_side: the ones every run
    shares), which the command line then need not name."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--method", choices=sorted(METHODS))
    known, _ = pre.parse_known_args(argv)
    args = build_parser(known.method, given=set(given)).parse_args(argv)
    for key, value in given.items():
        setattr(args, key, value)
    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(method_module(args.method).Config)}
    return args, options


def settings(method: str, questions: str | Path, out: str | Path, options: dict[str, Any] | None = None,
             **shared: Any) -> tuple[argparse.Namespace, dict[str, Any]]:
    """A run's settings from Python values, for studies that run many configurations: the command line's defaults,
    then `shared` (target, dtype, limit, max_new_tokens, ... by their option names with underscores) and the
    method's `options` (checked by its Config). What `parse_args` returns, without a command line."""
    method_config(method, options)
    defaults = {f.name: f.default for f in dataclasses.fields(method_module(method).Config)}
    options = {**defaults, **(options or {})}
    # the options as the command line's parser leaves them: the method's own ones by field name
    args = namespace(build_parser(method), {**shared, "method": method, "questions": str(questions), "out": str(out),
                                            **options}, "evaluation.run")
    return args, options


def build_parser(method: str | None, given: set[str] = frozenset()) -> argparse.ArgumentParser:
    """evaluation.run's options; with a method, its own options too (without one, e.g. a bare --help, the shared
    options and the list of methods). Options in `given` are set by the caller, so not required."""
    parents = [method_options_parser(method)] if method else []
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], parents=parents,
        epilog=f"methods: {', '.join(sorted(METHODS))}; `--method M --help` lists a method's own options")
    parser.add_argument("--method", required=True, choices=sorted(METHODS))
    add_target_options(parser)
    add_generation_options(parser)
    parser.add_argument("--questions", required="questions" not in given)
    parser.add_argument("--out", required="out" not in given)
    parser.add_argument("--temperature", type=non_negative_float, default=0.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--typical", action="store_true",
                        help="Medusa's typical acceptance when sampling (lossy: answers are marked so)")
    parser.add_argument("--device-map", default=None,
                        help="split a big target across GPUs with accelerate (e.g. auto); default: all on --device")
    parser.add_argument("--attn-implementation", default=None, choices=["sdpa", "eager", "flash_attention_2"],
                        help="the target's attention backend (default: transformers' choice, sdpa); tree methods need "
                             "sdpa or eager")
    parser.add_argument("--quantize-target", action="store_true",
                        help="int8 dynamic quantization of the target (CPU, --dtype float32); changes the target")
    parser.add_argument("--draft-dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="what the drafter or heads compute in (default auto: the target's dtype)")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N questions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stop", action="append", default=None, type=stop_argument,
                        help="stop string (repeatable; escapes like \\n work); default per category")
    parser.add_argument("--warmup", type=int, default=WARMUP_RUNS)
    return parser


class Runner:
    """A decoding session for this run's settings, answering one question at a time."""

    def __init__(self, args: argparse.Namespace, options: dict[str, Any], loaded: tuple | None = None):
        self.args = args
        self.accept = AcceptConfig(temperature=args.temperature, top_p=args.top_p, typical=args.typical)
        self.session = Session(args.target, args.method, options, dtype=args.dtype, device=args.device,
                               device_map=args.device_map, attn_implementation=args.attn_implementation,
                               chat_template=args.chat_template, quantize_target=args.quantize_target,
                               draft_dtype=args.draft_dtype, loaded=loaded)
        print(f"[multispec] prompt format for {args.target}: {describe(self.session.format)}; stop strings: "
              f"{args.stop if args.stop is not None else 'per category (translation: a newline)'}", flush=True)
        self.session.drafter(self.accept)  # a bad drafter or head fails now, before any question

    def stops(self, prompt: Prompt, category: str) -> tuple[str, ...]:
        """--stop when given; else the category's stop strings and those the prompt format needs."""
        return tuple(self.args.stop) if self.args.stop is not None else self.session.stops(prompt, category)

    def answer(self, question: dict, seed: int) -> tuple[dict, str]:
        """All turns of one question, per-turn stats in Spec-Bench's choice layout; and the prompt profile used."""
        self.session.generator.manual_seed(seed)
        choice: dict[str, list] = {k: [] for k in
                                   ("turns", "token_ids", "prompt_token_ids", "decoding_steps", "new_tokens", "wall_time", "accept_lengths",
                                    "draft_depths")}
        for i in range(len(question["turns"])):
            prompt = self.session.prompt(question["turns"][: i + 1], choice["turns"], question["category"])
            stops = self.stops(prompt, question["category"])
            gen = self.session.generate(prompt.ids, self.accept, self.args.max_new_tokens, stops)
            choice["turns"].append(clean_text(self.session.tokenizer.decode(gen.tokens, skip_special_tokens=True), stops))
            choice["token_ids"].append(gen.tokens)
            choice["prompt_token_ids"].append(prompt.ids)
            choice["decoding_steps"].append(gen.steps)
            choice["new_tokens"].append(len(gen.tokens))
            choice["wall_time"].append(gen.wall_time)
            choice["accept_lengths"].extend(gen.stats.accept_lengths)
            choice["draft_depths"].extend(gen.stats.draft_depths)  # per forward, as accept_lengths
        return {"index": 0, **choice}, prompt.profile


def clean_text(text: str, stops: tuple[str, ...]) -> str:
    """The answer text without the stop string that ended it (token ids keep it)."""
    for stop in stops:
        if stop in text:
            text = text[: text.index(stop)]
    return text.strip()


def resolved_config(args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    keys = ("method", "target", "max_new_tokens", "temperature", "top_p", "typical", "dtype", "seed", "chat_template", "stop")
    if args.quantize_target:  # only when set, so existing answer files keep matching their configuration
        keys += ("quantize_target",)
    if args.draft_dtype != "auto":  # likewise
        keys += ("draft_dtype",)
    config = {**{k: getattr(args, k) for k in keys}, "method_options": options}
    weights = weights_digest(args.method, options)
    return {**config, "weights": weights} if weights else config


NOT_WEIGHTS = ("provenance.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model")


def weights_digest(method: str, options: dict[str, Any]) -> str | None:
    """A digest of the local or shipped folder of trained weights a run drafts with, so that answers drafted by other
    weights under the same name (a head retrained in place, re-shipped `embedded:` weights) do not resume as this
    run's. None for methods without weights and for hub ids (their revision is the hub's business)."""
    kind = METHODS[method].weights
    name = str(options.get(kind) or "") if kind else ""
    folder = local_head(name) if name else None
    if folder is None or not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name not in NOT_WEIGHTS):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def same_config(stored: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """Whether a row's configuration is `current`. A method option the row lacks counts as its Config
    default, so adding an option to a method leaves existing answer files resumable."""
    if not stored or stored.get("method") != current["method"]:
        return False
    defaults = {f.name: f.default for f in dataclasses.fields(method_module(current["method"]).Config)}
    options = {**defaults, **(stored.get("method_options") or {})}
    if "weights" not in stored:  # rows from before weights were recorded: matched on the rest
        current = {k: v for k, v in current.items() if k != "weights"}
    return {**stored, "method_options": options} == current


class AnswerRun:
    """One configuration's answer file: which questions are still to answer, and answering them one by one.

    Opening checks that rows already in --out were made with the same configuration (resume); the
    target and drafter are loaded only by `start`, so a finished run costs nothing.
    """

    def __init__(self, argv: list[str] | None = None,
                 run_settings: tuple[argparse.Namespace, dict[str, Any]] | None = None):
        """From a command line, or from `settings(...)` (studies)."""
        self.args, self.options = run_settings or parse_args(argv)
        method_config(self.args.method, self.options)  # every setting that can be checked without the model, now
        try:
            AcceptConfig(temperature=self.args.temperature, top_p=self.args.top_p, typical=self.args.typical)
        except ValueError as err:
            raise InputError(str(err)) from None
        self.questions = load_questions(self.args.questions)[: self.args.limit]
        self.config = resolved_config(self.args, self.options)
        self.store = JsonlStore(self.args.out)
        for row in self.store.rows:
            if not same_config(row.get("config"), self.config):
                self.store.close()
                raise OutputFileError(f"{self.args.out} holds answers made with another configuration "
                                      f"({row.get('config')}); pass a new --out to keep both")
        done = {row["question_id"] for row in self.store.rows}
        self.todo = [(i, q) for i, q in enumerate(self.questions) if q["question_id"] not in done]
        print(f"[multispec] {self.args.method}: {len(done)} of {len(self.questions)} questions already in "
              f"{self.args.out}, {len(self.todo)} to run", flush=True)
        self.runner: Runner | None = None

    def __enter__(self) -> "AnswerRun":
        return self

    def __exit__(self, *exc) -> None:
        self.store.close()

    def start(self, loaded: tuple | None = None, warmup: int | None = None) -> None:
        """Load the drafter (and the target unless `loaded`), then the discarded warm-up runs (`warmup`, default the
        run's own setting; fewer where the caller's target is warm already)."""
        if self.store.rows:  # resuming: the stored rows must have been prompted as this run prompts
            self.check_stored_prompts(loaded[1] if loaded else load_tokenizer(self.args.target))
        self.runner = Runner(self.args, self.options, loaded)
        target = self.runner.session.target
        self.env = environment(target.device, target.dtype, target.draft_dtype)
        for _ in range(self.args.warmup if warmup is None else warmup):  # first calls pay allocator and kernel set-up
            self.runner.answer(self.questions[0], self.args.seed)

    def check_stored_prompts(self, tokenizer) -> None:
        """Rows already in --out must have been prompted as this run prompts: a file answered before base
        models got the completion profile resumes only where the prompts are the same (the project's own
        translation files), not where they changed (e.g. chat questions then sent as plain text)."""
        fmt = resolve_format(PromptFormat(self.args.chat_template), tokenizer, self.args.target)
        questions = {q["question_id"]: q for q in self.questions}
        for row in self.store.rows:
            question, stored = questions.get(row["question_id"]), row["choices"][0].get("prompt_token_ids")
            if question is None or not stored:
                continue
            prompt = build_prompt(tokenizer, fmt, question["turns"][:1], [], question["category"])
            if prompt.ids != stored[0]:
                raise OutputFileError(
                    f"{self.args.out}: question {row['question_id']!r} was prompted otherwise "
                    f"({row.get('prompt_format', 'unrecorded format')}) than this run would prompt it "
                    f"({prompt.profile}); pass a new --out, or the --chat-template it was made with")

    def answer(self, index: int, question: dict) -> None:
        """Answer question #index and append its row (flushed: an interruption loses at most this question)."""
        assert self.runner is not None, "start() first"
        try:
            choice, profile = self.runner.answer(question, self.args.seed + index)
        except Exception as err:
            raise RuntimeError(f"question {question['question_id']!r} (#{index + 1} in {self.args.questions}) "
                               f"failed with method {self.args.method}: {err}") from err
        self.store.append({
            "question_id": question["question_id"], "category": question["category"],
            "answer_id": uuid.uuid4().hex, "model_id": self.args.target, "tstamp": time.time(),
            "method": self.args.method, "lossy": self.runner.accept.lossy, "prompt_format": profile,
            "choices": [choice],
            "config": self.config, "environment": self.env,
        })


def main(argv: list[str] | None = None, loaded: tuple | None = None) -> None:
    """`loaded`: (model, tokenizer) of --target already in memory, for callers that run many configurations."""
    answer_all(parse_args(argv), loaded)


def answer_all(run_settings: tuple[argparse.Namespace, dict[str, Any]], loaded: tuple | None = None) -> None:
    """Every question not yet in the run's --out, one row each (what `main` does with a command line's settings)."""
    with AnswerRun(run_settings=run_settings) as run:
        if not run.todo:
            return
        run.start(loaded)
        for index, question in tqdm(run.todo, desc=f"{run.args.method} on {run.args.questions}", unit="q"):
            run.answer(index, question)


if __name__ == "__main__":
    run_command(main)
