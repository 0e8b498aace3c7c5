"""LLM-as-a-judge over answer files, through any OpenAI-compatible endpoint.

    python -m llm_judge.judge --questions Q.jsonl --answers A1.jsonl [A2.jsonl ...] --judge-model gpt-4o
        [--api-base URL] [--mode single|pairwise] [--baseline NAME | --all-pairs] [--reference FILE]
        [--parallel 8] [--timeout 120] [--max-retries 6] [--out FILE] [--names N1 N2 ...] [--limit N]

single: each answer graded 1-10 (the judge writes [[N]]). pairwise: each answer file against the
baseline (default: the first file), every pair asked in both orders. The API key comes from
OPENAI_API_KEY (any value for servers that ignore it). Retries with backoff on 429, 5xx, timeouts and
dropped connections are the openai client's (--max-retries). Each judgment is appended as it arrives;
a rerun skips what is done. A judgment whose verdict cannot be read is kept with score/winner null and
the reason in `parse_error`; a request that still fails after its retries writes nothing, so a rerun
asks again. Exit status 1 when any request failed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from data_processing.errors import positive_int, run_command
from data_processing.questions import load_questions
from evaluation.jsonl_store import JsonlStore, OutputFileError
from llm_judge.jobs import Job, build_jobs, load_answer_sets, load_references, model_pairs
from llm_judge.verdicts import parse_rating, parse_winner


def make_client(api_base: str | None, timeout: float, max_retries: int):
    from openai import OpenAI

    return OpenAI(base_url=api_base, api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"),
                  timeout=timeout, max_retries=max_retries)


def ask(client, judge_model: str, job: Job, max_tokens: int) -> str:
    response = client.chat.completions.create(model=judge_model, messages=job.messages, temperature=0.0,
                                              max_tokens=max_tokens)
    return response.choices[0].message.content or ""


def judgment_row(job: Job, judge_model: str, text: str) -> dict[str, Any]:
    row = {"id": job.id, "mode": "pairwise" if len(job.models) == 2 else "single", "question_id": job.question_id,
           "category": job.category, "turn": job.turn, "models": list(job.models), "judge_model": judge_model,
           "prompt": job.prompt, "judgment": text, "tstamp": time.time()}
    if len(job.models) == 1:
        row["score"], row["parse_error"] = parse_rating(text)
    else:
        row["winner"], row["parse_error"] = parse_winner(text)
    return row


def run_jobs(client, judge_model: str, jobs: list[Job], store: JsonlStore, parallel: int, max_tokens: int) -> int:
    """Judges the jobs not yet in the store; returns how many requests failed for good."""
    done = {row["id"] for row in store.rows}
    todo = [job for job in jobs if job.id not in done]
    print(f"[multispec] {len(jobs) - len(todo)} of {len(jobs)} judgments already in {store.path}, "
          f"{len(todo)} to ask {judge_model}", flush=True)
    failed = 0
    with ThreadPoolExecutor(max(parallel, 1)) as pool, tqdm(total=len(todo), desc="judging", unit="judgment") as bar:
        futures = {pool.submit(ask, client, judge_model, job, max_tokens): job for job in todo}
        for future in as_completed(futures):  # rows are written from this thread only, one at a time
            job = futures[future]
            try:
                store.append(judgment_row(job, judge_model, future.result()))
            except Exception as err:  # after the client's own retries: leave the job for a rerun
                failed += 1
                tqdm.write(f"[multispec] judgment {job.id} failed: {type(err).__name__}: {err}")
            bar.update(1)
    return failed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", required=True)
    parser.add_argument("--answers", nargs="+", required=True)
    parser.add_argument("--names", nargs="+", default=None, help="one name per answer file (default: its method)")
    parser.add_argument("--judge-model", default="gpt-4o")
    parser.add_argument("--api-base", default=None, help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    parser.add_argument("--mode", choices=["single", "pairwise"], default="single")
    parser.add_argument("--baseline", default=None, help="pairwise: the name every other file is compared with")
    parser.add_argument("--all-pairs", action="store_true", help="pairwise: compare every pair of files")
    parser.add_argument("--reference", default=None, help="question or answer file with reference answers")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--max-retries", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=1024, help="judge's answer length")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N questions")
    parser.add_argument("--out", default=None, help="default outputs/judgments/<mode>-<judge model>.jsonl")
    args = parser.parse_args(argv)

    questions = load_questions(args.questions)[: args.limit]
    answers = load_answer_sets(args.answers, args.names)
    pairwise = args.mode == "pairwise"
    pairs = model_pairs(list(answers), args.baseline, args.all_pairs) if pairwise else []
    jobs, missing = build_jobs(questions, answers, load_references(args.reference, questions), pairwise, pairs)
    for name, count in missing.items():
        if count:
            print(f"[multispec] {name}: no answer for {count} of {len(questions)} questions (skipped)", flush=True)
    out = Path(args.out or f"outputs/judgments/{args.mode}-{args.judge_model.replace('/', '_')}.jsonl")
    with JsonlStore(out) as store:
        other = {row.get("judge_model") for row in store.rows} - {args.judge_model}
        if other:
            raise OutputFileError(f"{out} holds judgments by {sorted(other)}; pass a new --out to keep both")
        failed = run_jobs(make_client(args.api_base, args.timeout, args.max_retries), args.judge_model, jobs,
                          store, args.parallel, args.max_tokens)
    unreadable = sum(1 for row in store.rows if row["parse_error"])
    print(f"[multispec] {out}: {len(store.rows)} judgments, {unreadable} without a readable verdict", flush=True)
    if failed:
        sys.exit(f"{failed} judgment requests failed after retries; rerun the same command to ask again")


if __name__ == "__main__":
    run_command(main)
