"""Row mappers: records of public benchmark data sets -> Spec-Bench question rows.

Each mapper reads records in the schema of the hub data set (documented on the mapper), keeps the
first n usable ones in the source's order, and raises SchemaError when a record lacks a field, which
usually means a file in another schema was passed.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from data_processing.builtin import ja as builtin_ja
from data_processing.languages import translation_prompt

Mapper = Callable[[Iterable[dict], int], list[dict]]

# XLSum articles run to several thousand characters; longer ones would dominate CPU prefill time and
# exceed Gemma's sliding window many times over, so they are skipped rather than cut mid-sentence.
MAX_ARTICLE_CHARS = 3000


class SchemaError(ValueError):
    """A record does not have the fields of the benchmark's schema."""


def _field(record: Any, key: str, index: int, schema: str) -> Any:
    if not isinstance(record, dict) or key not in record:
        got = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise SchemaError(f"record {index}: missing field {key!r} (expected {schema}; got {got})")
    return record[key]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


RowMaker = Callable[[dict, int, int], "dict | None"]  # (record, record index, number the row would get) -> row or None


def first_usable(make_row: RowMaker) -> Mapper:
    """A mapper keeping the first n records for which make_row returns a row, in the source's order."""

    def to_rows(records: Iterable[dict], n: int) -> list[dict]:
        rows: list[dict] = []
        for i, record in enumerate(records):
            row = make_row(record, i, len(rows) + 1)
            if row is not None:
                rows.append(row)
                if len(rows) == n:
                    break
        return rows

    to_rows.__doc__ = make_row.__doc__
    return to_rows


def translation(lang: str, prefix: str) -> Mapper:
    """WMT / JParaCrawl rows {"translation": {<lang>: str, "en": str}} -> <lang>->English questions."""
    schema = f'{{"translation": {{"{lang}": str, "en": str}}}}'

    def make_row(record: dict, i: int, number: int) -> dict | None:
        pair = _field(record, "translation", i, schema)
        src, en = _text(_field(pair, lang, i, schema)), _text(_field(pair, "en", i, schema))
        if not src or not en:
            return None
        return {
            "question_id": f"{prefix}-{number:04d}",
            "category": f"translation-{lang}",
            "turns": [translation_prompt(lang, src)],
            "reference": [en],
        }

    return first_usable(make_row)


def _mt_bench_row(record: dict, i: int, number: int) -> dict | None:
    """MT-bench: HuggingFaceH4/mt_bench_prompts rows {"prompt": [str], "prompt_id", "category", "reference": [str]},
    or FastChat's question.jsonl rows {"question_id", "category", "turns": [str], "reference"?}."""
    schema = '{"prompt" or "turns": [str], "prompt_id" or "question_id", "category"}'
    turns_key = "turns" if isinstance(record, dict) and "turns" in record else "prompt"
    id_key = "question_id" if isinstance(record, dict) and "question_id" in record else "prompt_id"
    turns = [t for t in (_field(record, turns_key, i, schema) or []) if _text(t)]
    if not turns:
        return None
    row = {
        "question_id": _field(record, id_key, i, schema),
        "category": f"mt_bench-{_text(_field(record, 'category', i, schema)) or 'unknown'}",
        "turns": turns,
    }
    reference = [r for r in (record.get("reference") or []) if _text(r)]
    if reference:
        row["reference"] = reference
    return row


mt_bench = first_usable(_mt_bench_row)


def _gsm8k_row(record: dict, i: int, number: int) -> dict | None:
    """GSM8K (openai/gsm8k, config "main"): rows {"question": str, "answer": str}; the answer ends "#### <number>"."""
    schema = '{"question": str, "answer": str}'
    question, answer = _text(_field(record, "question", i, schema)), _text(_field(record, "answer", i, schema))
    if not question:
        return None
    # the "Question/Answer" frame gives a base model a place to answer; stop_strings ends it at a blank line
    return {
        "question_id": f"gsm8k-{number:04d}",
        "category": "math_reasoning-en",
        "turns": [f"Question: {question}\nAnswer:"],
        "reference": [answer],
    }


gsm8k = first_usable(_gsm8k_row)


def _xlsum_ja_row(record: dict, i: int, number: int) -> dict | None:
    """XLSum (csebuetnlp/xlsum, config "japanese"): rows {"id", "url", "title", "summary": str, "text": str}."""
    schema = '{"text": str, "summary": str}'
    text, summary = _text(_field(record, "text", i, schema)), _text(_field(record, "summary", i, schema))
    if not text or len(text) > MAX_ARTICLE_CHARS:
        return None
    return {
        "question_id": f"xlsum-ja-{number:04d}",
        "category": "summarization-ja",
        "turns": [builtin_ja.SUMMARY_TEMPLATE.format(text=text)],
        "reference": [summary],
    }


xlsum_ja = first_usable(_xlsum_ja_row)


def sharegpt(records: Iterable[dict], n: int) -> list[dict]:
    """ShareGPT: rows {"id": str, "conversations": [{"from": "human"|"gpt"|..., "value": str}]}.

    The user messages become the turns (as in MT-bench, later turns assume the original replies);
    conversations that open with the assistant or have no user text are skipped, and so are repeated ids.
    """
    schema = '{"id": str, "conversations": [{"from": str, "value": str}]}'
    seen: set[str] = set()

    def make_row(record: dict, i: int, number: int) -> dict | None:
        qid = str(_field(record, "id", i, schema))
        messages = _field(record, "conversations", i, schema) or []
        if qid in seen or not messages or _field(messages[0], "from", i, schema) not in ("human", "user"):
            return None
        turns = [t for t in (_text(m.get("value")) for m in messages if m.get("from") in ("human", "user")) if t]
        if not turns:
            return None
        seen.add(qid)
        return {"question_id": qid, "category": "sharegpt", "turns": turns}

    return first_usable(make_row)(records, n)
