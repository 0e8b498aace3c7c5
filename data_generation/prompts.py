"""Training prompts from any of the project's row files: training pools, ShareGPT files, question files."""
from __future__ import annotations

from pathlib import Path

from data_processing.jsonl_rows import checked_rows


class PromptFileError(ValueError):
    """A prompt file row has no recognizable id and prompt."""


def prompt_of(row: dict) -> tuple[str, str] | None:
    """(id, prompt) of a training-pool {"id", "prompt"}, ShareGPT {"id", "conversations"} or Spec-Bench question row."""
    if not isinstance(row, dict):
        return None
    if "prompt" in row and "id" in row:
        return str(row["id"]), row["prompt"]
    if "conversations" in row and "id" in row:
        human = [m["value"] for m in row["conversations"] if m.get("from") in ("human", "user")]
        return (str(row["id"]), human[0]) if human else None
    if row.get("turns") and "question_id" in row:
        return str(row["question_id"]), row["turns"][0]
    return None


def _problem(row: dict) -> str | None:
    if prompt_of(row) is None:
        return "row has neither id+prompt, id+conversations (with a human turn) nor question_id+turns"
    return None


def read_prompts(path: str | Path) -> list[tuple[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise PromptFileError(f"prompt file {path} does not exist (build one with python -m data_processing.build_translation)")
    return [prompt_of(row) for _, row in checked_rows(path, PromptFileError, _problem, lambda row: prompt_of(row)[0])]
