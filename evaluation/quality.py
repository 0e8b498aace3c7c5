"""Translation quality next to speed: corpus chrF and BLEU (sacrebleu) of answers against their questions' references.

Greedy lossless methods write exactly `ar`'s text, so they score exactly as `ar` does (reports check it); sampled and
lossy (typical acceptance) runs show how far they moved. Open-ended items have no reference: the LLM judge scores them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import sacrebleu

from data_processing.questions import load_questions


def load_question_texts(questions: str | Path) -> tuple[dict[Any, str], dict[Any, str]]:
    """From one read of a question file: question_id -> its (first) reference, for the questions that have one,
    and question_id -> its first turn, the prompt a first answer may echo."""
    refs, prompts = {}, {}
    for q in load_questions(questions):
        ref = q.get("reference")
        if isinstance(ref, list):
            ref = ref[0] if ref else None
        if isinstance(ref, str) and ref.strip():
            refs[q["question_id"]] = ref
        if q.get("turns"):
            prompts[q["question_id"]] = str(q["turns"][0])
    return refs, prompts


def answer_text(row: dict[str, Any]) -> str:
    """The first turn's answer: references belong to a question's first turn."""
    return str(row["choices"][0]["turns"][0])


def corpus_scores(rows: Sequence[dict[str, Any]], references: dict[Any, str]) -> tuple[float, float] | None:
    """(chrF, BLEU) over the rows whose question has a reference; None when none has."""
    scored = [(answer_text(row), references[row["question_id"]]) for row in rows if row["question_id"] in references]
    if not scored:
        return None
    hypotheses, refs = [h for h, _ in scored], [r for _, r in scored]
    return sacrebleu.corpus_chrf(hypotheses, [refs]).score, sacrebleu.corpus_bleu(hypotheses, [refs]).score
