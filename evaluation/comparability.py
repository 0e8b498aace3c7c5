"""Whether an answer file and its baseline compare like with like: the same settings (target, length limit,
sampling, dtype, template, stops, quantization, device) and the same prompts. `evaluation.speed` refuses a speedup
otherwise; files that record no settings (e.g. Spec-Bench's own) are passed, and speed says they were unchecked.
"""
from __future__ import annotations

from typing import Any, Sequence

from evaluation.answers import Row

# what must match between a method's file and its baseline for a speedup to compare like with like
SHARED_CONFIG = ("target", "max_new_tokens", "temperature", "top_p", "dtype", "chat_template", "stop", "quantize_target")
SHARED_ENVIRONMENT = ("device_name", "dtype")


def settings_differences(baseline: Row, row: Row) -> list[str] | None:
    """What differs between the settings of a method's row and the baseline's; None when either records none."""
    if not isinstance(baseline.get("config"), dict) or not isinstance(row.get("config"), dict):
        return None
    diffs = [f"{key} {row['config'].get(key)!r} vs {baseline['config'].get(key)!r}" for key in SHARED_CONFIG
             if row["config"].get(key) != baseline["config"].get(key)]
    base_env, env = baseline.get("environment") or {}, row.get("environment") or {}
    return diffs + [f"{key} {env.get(key)!r} vs {base_env.get(key)!r}" for key in SHARED_ENVIRONMENT
                    if key in env and key in base_env and env[key] != base_env[key]]


def prompt_differences(baseline: Sequence[Row], rows: Sequence[Row]) -> list[str]:
    """Questions whose first prompt differs from the baseline's: compared by token ids where both rows carry them
    (a file answered before base models got the completion profile still matches where its prompts are the same),
    else by the recorded prompt format."""
    def first_prompt(row: Row) -> Any:
        ids = (row.get("choices") or [{}])[0].get("prompt_token_ids")
        return ("ids", ids[0]) if ids else ("format", row.get("prompt_format"))

    base = {r["question_id"]: r for r in baseline}
    diffs = []
    for row in rows:
        other = base.get(row["question_id"])
        if other is None:
            continue
        mine, theirs = first_prompt(row), first_prompt(other)
        if mine[0] == theirs[0] and None not in (mine[1], theirs[1]) and mine[1] != theirs[1]:
            diffs.append(f"question {row['question_id']!r}: prompt ({row.get('prompt_format', 'format unrecorded')}) "
                         f"differs from the baseline's ({other.get('prompt_format', 'format unrecorded')})")
    return diffs


def settings_recorded(baseline: Sequence[Row], rows: Sequence[Row]) -> bool:
    return settings_differences(baseline[0], rows[0]) is not None


def comparability_problems(baseline: Sequence[Row], rows: Sequence[Row]) -> list[str]:
    """What keeps `rows` from comparing with `baseline` (at most three prompt differences named); [] when nothing."""
    diffs = settings_differences(baseline[0], rows[0])
    return [] if diffs is None else diffs + prompt_differences(baseline, rows)[:3]
