"""Self-distillation: the target answers training prompts at several temperatures -> ShareGPT rows.

    python -m data_generation.generate --prompts data/train/de.jsonl --out data/distill/de.jsonl
        [--target gemma-3-270m] [--temperatures 0 0.3 0.7 1.0] [--limit N] [--max-new-tokens 128]
        [--stop '\\n'] [--batch-size 64]
        [--backend openai --base-url http://localhost:8000/v1 --model NAME --concurrency 16]

Rows: {"id": "<prompt id>@t<temperature>", "source_id", "temperature",
       "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]}.
Every answer is appended and flushed as it finishes; rerunning the command skips finished rows. The local backend
batches continuously (data_generation.local_backend); the openai one sends --concurrency requests at a time.
"""
from __future__ import annotations

import argparse
import time

from tqdm import tqdm

from data_generation.prompts import read_prompts
from data_processing.errors import InputError, non_negative_float, non_negative_int, positive_int, run_command
from data_processing.questions import stop_argument
from evaluation.jsonl_store import JsonlStore, OutputFileError
from multispec.options import add_generation_options, add_target_options


def row_id(prompt_id: str, temperature: float) -> str:
    return f"{prompt_id}@t{temperature:g}"


def cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    """The answer up to the first stop string, otherwise verbatim: a drafter must learn the target's
    exact tokens, leading space included (Gemma answers "English:" with " The ...")."""
    for stop in stops:
        if stop in text:
            text = text[: text.index(stop)]
    return text


def make_backend(args: argparse.Namespace, stops: tuple[str, ...]):
    if args.backend == "openai":
        from data_generation.openai_backend import OpenAIBackend

        from evaluation.prompting import fastchat_template_for, looks_like_chat_model

        chat = {"chat": True, "completions": False}.get(args.api)
        if chat is None:  # auto: the served model's name says whether it is a chat model
            chat = looks_like_chat_model(args.model) or fastchat_template_for(args.model) is not None
        print(f"[multispec] {args.model}: {'chat' if chat else 'completions'} endpoint", flush=True)
        return OpenAIBackend(args.base_url, args.model, args.max_new_tokens, stops, args.concurrency, chat=chat)
    from data_generation.local_backend import LocalBackend
    from model.common.zoo import load_model

    model, tokenizer = load_model(args.target, dtype=args.dtype)
    return LocalBackend(model, tokenizer, args.max_new_tokens, stops, batch_size=args.batch_size)


def pending(store: JsonlStore, prompts: list[tuple[str, str]], temperatures: list[float]) -> list[tuple[float, str, str]]:
    """(temperature, prompt id, prompt) of every answer not yet in the store."""
    done = {row["id"] for row in store.rows}
    return [(t, pid, p) for t in temperatures for pid, p in prompts if row_id(pid, t) not in done]


def settings(args: argparse.Namespace) -> dict:
    """What decides an answer's text, recorded in every row: a rerun resumes only rows made the same way."""
    source = {"backend": "openai", "model": args.model, "api": args.api} if args.backend == "openai" else \
        {"backend": "local", "target": args.target, "dtype": args.dtype}
    return {**source, "max_new_tokens": args.max_new_tokens, "stop": list(args.stop or ()), "seed": args.seed}


def check_settings(store: JsonlStore, current: dict) -> None:
    for number, row in enumerate(store.rows, start=1):
        if row.get("config") != current:
            raise OutputFileError(f"{store.path}:{number}: row {row.get('id')!r} was made with other settings "
                                  f"({row.get('config')}, now {current}); pass a new --out to keep both")


def distill(backend, prompts: list[tuple[str, str]], temperatures: list[float], store: JsonlStore,
            seed: int, stops: tuple[str, ...], config: dict | None = None) -> None:
    """Answer every pending (prompt, temperature); each answer is appended (and flushed) the moment it is done."""
    todo = pending(store, prompts, temperatures)
    print(f"[multispec] {len(store.rows)} rows already in {store.path}, {len(todo)} to generate", flush=True)
    tokens, start = 0, time.perf_counter()
    bar = tqdm(total=len(todo), desc="self-distillation", unit="answer")
    for temperature in temperatures:
        items = [(pid, prompt) for t, pid, prompt in todo if t == temperature]
        prompt_of = dict(items)
        for pid, text, n in backend.stream(items, temperature, seed):
            store.append({"id": row_id(pid, temperature), "source_id": pid, "temperature": temperature,
                          "conversations": [{"from": "human", "value": prompt_of[pid]},
                                            {"from": "gpt", "value": cut_at_stop(text, stops)}],
                          "config": config})
            tokens += n
            bar.update(1)
            bar.set_postfix(tokens_per_s=f"{tokens / (time.perf_counter() - start):.1f}")
    bar.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", required=True, help="training pool, ShareGPT or question file")
    parser.add_argument("--out", required=True)
    add_target_options(parser, device=False)
    add_generation_options(parser, chat_template=False)
    parser.add_argument("--temperatures", type=non_negative_float, nargs="+", default=[0.0, 0.3, 0.7, 1.0])
    parser.add_argument("--skip", type=non_negative_int, default=0, help="leave out the first N prompts (e.g. another file's)")
    parser.add_argument("--limit", type=positive_int, default=None, help="first N prompts (after --skip)")
    parser.add_argument("--stop", action="append", default=None, type=stop_argument,
                        help="stop string (repeatable; escapes like \\n work)")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="local backend: rows decoding together (a finished row is replaced by the next prompt)")
    parser.add_argument("--backend", choices=["local", "openai"], default="local")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default=None, help="model name on the server")
    parser.add_argument("--concurrency", type=positive_int, default=16)
    parser.add_argument("--api", choices=["auto", "chat", "completions"], default="auto",
                        help="openai backend: chat messages for chat targets, raw completions for base ones "
                             "(auto: from --model's name)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def run(args: argparse.Namespace) -> None:
    if args.backend == "openai" and not (args.base_url and args.model):
        raise InputError("--backend openai needs --base-url and --model")
    stops = tuple(args.stop or ())
    print(f"[multispec] stop strings: {list(stops)}", flush=True)
    prompts = read_prompts(args.prompts)[args.skip:][: args.limit]
    config = settings(args)
    with JsonlStore(args.out) as store:
        check_settings(store, config)
        if not pending(store, prompts, args.temperatures):  # done: do not load the model for nothing
            print(f"[multispec] all {len(prompts) * len(args.temperatures)} answers already in {store.path}")
            return
        distill(make_backend(args, stops), prompts, args.temperatures, store, args.seed, stops, config)


def main(argv: list[str] | None = None) -> None:
    run(build_parser().parse_args(argv))


if __name__ == "__main__":
    run_command(main)
