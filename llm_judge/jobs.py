"""What to ask the judge: one job per (question, turn, answer) in single mode, and per (question, turn,
pair of answers, order) in pairwise mode, where every pair is asked in both orders to cancel position bias."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from evaluation.answers import is_lossy, load_answers
from llm_judge.prompts import choose, context_block, render


@dataclass(frozen=True)
class Job:
    id: str
    question_id: Any
    category: str
    turn: int
    models: tuple[str, ...]  # one model (single) or (model in position A, model in position B)
    prompt: str
    messages: list[dict[str, str]]


def answer_name(rows: list[dict]) -> str:
    """A file's name in judgments: its method, marked when it was decoded lossily."""
    return rows[0]["method"] + ("-typical" if is_lossy(rows[0]) else "")


def load_answer_sets(paths: list[str], names: list[str] | None) -> dict[str, dict[Any, list[str]]]:
    """name -> question_id -> answer text per turn."""
    if names is not None and len(names) != len(paths):
        raise SystemExit(f"--names gives {len(names)} names for {len(paths)} answer files")
    sets: dict[str, dict[Any, list[str]]] = {}
    for i, path in enumerate(paths):
        rows = load_answers(path)
        name = names[i] if names else answer_name(rows)
        if name in sets:
            raise SystemExit(f"two answer files are both named {name!r} ({path}); pass --names to tell them apart")
        sets[name] = {row["question_id"]: list(row["choices"][0]["turns"]) for row in rows}
    return sets


def as_list(reference: Any) -> list[str]:
    return [reference] if isinstance(reference, str) else list(reference or [])


def load_references(path: str | None, questions: list[dict]) -> dict[Any, list[str]]:
    """question_id -> reference per turn: from the questions' own `reference`, or from --reference FILE
    (a question file with `reference`, or an answer file whose answers serve as references)."""
    if path is None:
        return {q["question_id"]: as_list(q.get("reference")) for q in questions}
    from data_processing.jsonl_rows import checked_rows

    refs = {}
    for _, row in checked_rows(Path(path), ValueError, lambda r: None if isinstance(r, dict) else "not an object"):
        if "reference" in row:
            refs[row["question_id"]] = as_list(row["reference"])
        elif "choices" in row:
            refs[row["question_id"]] = list(row["choices"][0]["turns"])
    return refs


def model_pairs(names: list[str], baseline: str | None, all_pairs: bool) -> list[tuple[str, str]]:
    if all_pairs:
        return list(combinations(names, 2))
    base = baseline or names[0]
    if base not in names:
        raise SystemExit(f"--baseline {base!r} is none of the answer files' names {names}")
    return [(base, other) for other in names if other != base]


def build_jobs(questions: list[dict], answers: dict[str, dict[Any, list[str]]], references: dict[Any, list[str]],
               pairwise: bool, pairs: list[tuple[str, str]]) -> tuple[list[Job], dict[str, int]]:
    """All jobs, and per answer name how many questions it has no answer for (those are skipped)."""
    jobs, missing = [], {name: 0 for name in answers}
    for q in questions:
        qid, category = q["question_id"], q["category"]
        for name in answers:
            missing[name] += qid not in answers[name]
        for turn, text in enumerate(q["turns"]):
            refs = references.get(qid, [])
            fields = {"question": text, "reference": refs[turn] if turn < len(refs) else ""}
            prompt = choose(category, pairwise, bool(fields["reference"]))

            def context(name: str) -> str:
                return context_block(q["turns"][:turn], answers[name][qid][:turn])

            if not pairwise:
                for name, by_question in answers.items():
                    if qid in by_question and turn < len(by_question[qid]):
                        messages = render(prompt, category, context=context(name), answer=by_question[qid][turn], **fields)
                        jobs.append(Job(f"single|{qid}|{turn}|{name}", qid, category, turn, (name,), prompt.name, messages))
                continue
            for x, y in pairs:
                if not all(qid in answers[m] and turn < len(answers[m][qid]) for m in (x, y)):
                    continue
                for a, b in ((x, y), (y, x)):
                    # in multi-turn questions the earlier conversation shown is answer A's own
                    messages = render(prompt, category, context=context(a), answer_a=answers[a][qid][turn],
                                      answer_b=answers[b][qid][turn], **fields)
                    jobs.append(Job(f"pair|{qid}|{turn}|{a}|{b}", qid, category, turn, (a, b), prompt.name, messages))
    return jobs, missing
