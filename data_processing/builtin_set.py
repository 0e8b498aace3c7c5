"""The built-in multilingual question set: chat, one-sentence summarization and short QA in six languages.

All text lives in data_processing/builtin/<lang>.py and was written for this project. Rows get ids
like "de-chat-03" and categories like "chat-de", "summarization-ja", "qa-en"; QA rows carry the short
answer as their reference.
"""
from __future__ import annotations

from importlib import import_module
from types import ModuleType

BUILTIN_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "ja", "ru", "zh")


def _module(lang: str) -> ModuleType:
    if lang not in BUILTIN_LANGUAGES:
        raise ValueError(f"no built-in prompts for {lang!r}; available: {', '.join(BUILTIN_LANGUAGES)}")
    return import_module(f"data_processing.builtin.{lang}")


def language_rows(lang: str) -> list[dict]:
    """Question rows of one language, in a fixed order: chat, then summarization, then QA."""
    m = _module(lang)
    rows = [
        {"question_id": f"{lang}-chat-{i:02d}", "category": f"chat-{lang}", "turns": [text]}
        for i, text in enumerate(m.CHAT, start=1)
    ]
    rows += [
        {
            "question_id": f"{lang}-summarization-{i:02d}",
            "category": f"summarization-{lang}",
            "turns": [m.SUMMARY_TEMPLATE.format(text=text)],
        }
        for i, text in enumerate(m.SUMMARIZATION, start=1)
    ]
    rows += [
        {
            "question_id": f"{lang}-qa-{i:02d}",
            "category": f"qa-{lang}",
            "turns": [m.QA_TEMPLATE.format(question=question)],
            "reference": [answer],
        }
        for i, (question, answer) in enumerate(m.QA, start=1)
    ]
    return rows


def builtin_rows(langs: tuple[str, ...] = BUILTIN_LANGUAGES) -> list[dict]:
    return [row for lang in langs for row in language_rows(lang)]
