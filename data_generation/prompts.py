"""Training prompts from any of the project's row files: training pools, ShareGPT files, question files."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from data_processing.errors import InputError
from data_processing.jsonl_rows import checked_rows


class PromptFileError(InputError):
    """A prompt file row has no recognizable id and prompt."""


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def prompt_problem(row: Any) -> str | None:
    """What keeps a row from giving a prompt, or None: a training-pool {"id", "prompt"}, a ShareGPT
    {"id", "conversations"} or a Spec-Bench question {"question_id", "turns"} row."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    if "prompt" in row and "id" in row:
        return None if _text(row["prompt"]) else f"'prompt' must be a non-empty string, got {row['prompt']!r}"
    if "conversations" in row and "id" in row:
        turns = row["conversations"]
        if not isinstance(turns, list) or not all(isinstance(m, dict) for m in turns):
            return f"'conversations' must be a list of {{\"from\", \"value\"}} objects, got {turns!r:.80}"
        human = [m.get("value") for m in turns if m.get("from") in ("human", "user")]
        if not human:
            return "'conversations' has no human turn"
        return None if _text(human[0]) else f"the first human turn must be a non-empty string, got {human[0]!r}"
    if "turns" in row and "question_id" in row:
        turns = row["turns"]
        if not isinstance(turns, list) or not turns or not _text(turns[0]):
            return f"'turns' must be a list of non-empty strings, got {turns!r:.80}"
        return None
    return "row has neither id+prompt, id+conversations (with a human turn) nor question_id+turns"


def prompt_of(row: dict) -> tuple[str, str]:
    """(id, prompt) of a row that passed prompt_problem."""
    if "prompt" in row and "id" in row:
        return str(row["id"]), row["prompt"]
    if "conversations" in row and "id" in row:
        return str(row["id"]), next(m["value"] for m in row["conversations"] if m.get("from") in ("human", "user"))
    return str(row["question_id"]), row["turns"][0]


def read_prompts(path: str | Path) -> list[tuple[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise PromptFileError(f"prompt file {path} does not exist (build one with python -m data_processing.build_translation)")
    return [prompt_of(row) for _, row in checked_rows(path, PromptFileError, prompt_problem, lambda row: prompt_of(row)[0])]
