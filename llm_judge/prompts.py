"""Judge prompts: single-answer grading (1-10 as [[N]]) and pairwise comparison ([[A]], [[B]] or [[C]]),
each in a general form and a translation form (X -> English, with or without a reference translation)."""
from __future__ import annotations

from dataclasses import dataclass

from data_processing.languages import LANGUAGE_NAMES


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    system: str
    user: str  # str.format template over context, question, answer / answer_a, answer_b, reference, language


SINGLE_RULE = ("Write a short justification first, then give the score on its own line in exactly this form: "
               "Score: [[N]], where N is an integer from 1 (useless) to 10 (flawless).")
PAIR_RULE = ("Write a short justification first, then give the verdict on its own line in exactly one of these "
             "forms: [[A]] if answer A is better, [[B]] if answer B is better, [[C]] if they are equally good. "
             "The order in which the answers appear and their length must not influence you.")

GENERAL_SINGLE = JudgePrompt(
    "single-general",
    "You are a strict, fair evaluator of AI assistant answers. Judge how well the answer serves the user: "
    "correctness, relevance, completeness and clarity. " + SINGLE_RULE,
    "{context}[User request]\n{question}\n\n[Answer to evaluate]\n{answer}\n[End of answer]")

TRANSLATION_SINGLE = JudgePrompt(
    "single-translation",
    "You are a professional translator reviewing machine translations from {language} into English. "
    "Judge the translation for meaning preserved (nothing added, dropped or distorted), natural and "
    "grammatical English, correct terminology, and that it answers with the translation only. " + SINGLE_RULE,
    "{context}[Translation request]\n{question}\n\n[Translation to evaluate]\n{answer}\n[End of translation]")

TRANSLATION_SINGLE_REF = JudgePrompt(
    "single-translation-ref",
    TRANSLATION_SINGLE.system + " A reference translation is given: use it to check meaning, but do not "
    "penalize wording that differs from it while saying the same thing.",
    "{context}[Translation request]\n{question}\n\n[Reference translation]\n{reference}\n\n"
    "[Translation to evaluate]\n{answer}\n[End of translation]")

GENERAL_PAIR = JudgePrompt(
    "pair-general",
    "You are a strict, fair evaluator comparing two AI assistant answers to the same user request. Decide "
    "which serves the user better: correctness, relevance, completeness and clarity. " + PAIR_RULE,
    "{context}[User request]\n{question}\n\n[Answer A]\n{answer_a}\n[End of answer A]\n\n"
    "[Answer B]\n{answer_b}\n[End of answer B]")

TRANSLATION_PAIR = JudgePrompt(
    "pair-translation",
    "You are a professional translator comparing two machine translations from {language} into English of "
    "the same text. Decide which preserves the meaning better (nothing added, dropped or distorted) in "
    "natural, grammatical English with correct terminology. " + PAIR_RULE,
    "{context}[Translation request]\n{question}\n\n[Translation A]\n{answer_a}\n[End of translation A]\n\n"
    "[Translation B]\n{answer_b}\n[End of translation B]")

TRANSLATION_PAIR_REF = JudgePrompt(
    "pair-translation-ref",
    TRANSLATION_PAIR.system + " A reference translation is given: use it to check meaning, not wording.",
    "{context}[Translation request]\n{question}\n\n[Reference translation]\n{reference}\n\n"
    "[Translation A]\n{answer_a}\n[End of translation A]\n\n[Translation B]\n{answer_b}\n[End of translation B]")


def source_language(category: str) -> str | None:
    """'translation-de' -> 'German'; None for other categories."""
    family, _, code = category.partition("-")
    if family != "translation":
        return None
    return LANGUAGE_NAMES.get(code, code or "the source language")


def choose(category: str, pairwise: bool, has_reference: bool) -> JudgePrompt:
    if source_language(category) is None:
        return GENERAL_PAIR if pairwise else GENERAL_SINGLE
    if pairwise:
        return TRANSLATION_PAIR_REF if has_reference else TRANSLATION_PAIR
    return TRANSLATION_SINGLE_REF if has_reference else TRANSLATION_SINGLE


def context_block(turns: list[str], answers: list[str]) -> str:
    """Earlier turns of a multi-turn question, shown before the turn being judged."""
    if not turns:
        return ""
    lines = ["[Earlier conversation, for context only]"]
    for turn, answer in zip(turns, answers):
        lines += [f"User: {turn}", f"Assistant: {answer}"]
    return "\n".join(lines) + "\n[End of earlier conversation]\n\n"


def render(prompt: JudgePrompt, category: str, **fields: str) -> list[dict[str, str]]:
    """Chat messages for the judge."""
    language = source_language(category) or ""
    return [{"role": "system", "content": prompt.system.format(language=language)},
            {"role": "user", "content": prompt.user.format(language=language, **fields)}]
