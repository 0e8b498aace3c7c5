"""Question files: validation errors name the file and line; writing round-trips; stop strings; built-in set."""
from __future__ import annotations

import json
import re

import pytest

from data_processing import build_builtin
from data_processing.builtin_set import BUILTIN_LANGUAGES, builtin_rows
from data_processing.languages import in_target_script
from data_processing.questions import QuestionFileError, load_questions, stop_strings, write_questions

GOOD = {"question_id": 1, "category": "translation-de", "turns": ["Translate German to English: Hallo\nEnglish:"]}


def write_lines(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_valid_file_loads_and_skips_blank_lines(tmp_path):
    rows = [GOOD, {"question_id": "b-2", "category": "qa-en", "turns": ["a", "b"], "reference": "x", "extra": 1}]
    path = write_lines(tmp_path / "q.jsonl", [json.dumps(rows[0]), "", "   ", json.dumps(rows[1])])
    assert load_questions(path) == rows


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"question_id": 2, "category": "x", "turns": ["a"]', "not valid JSON"),
        ('[1, 2]', "expected a JSON object"),
        ('{"category": "x", "turns": ["a"]}', "missing field 'question_id'"),
        ('{"question_id": 2, "turns": ["a"]}', "missing field 'category'"),
        ('{"question_id": 2, "category": "x"}', "missing field 'turns'"),
        ('{"question_id": 2.5, "category": "x", "turns": ["a"]}', "'question_id' must be"),
        ('{"question_id": true, "category": "x", "turns": ["a"]}', "'question_id' must be"),
        ('{"question_id": 2, "category": 7, "turns": ["a"]}', "'category' must be"),
        ('{"question_id": 2, "category": "x", "turns": []}', "'turns' must be a non-empty list"),
        ('{"question_id": 2, "category": "x", "turns": "a"}', "'turns' must be a non-empty list"),
        ('{"question_id": 2, "category": "x", "turns": ["a", 3]}', r"'turns'\[1\]"),
        ('{"question_id": 2, "category": "x", "turns": ["a"], "reference": [1]}', "'reference' must be"),
        ('{"question_id": 1, "category": "x", "turns": ["a"]}', r"duplicate question_id 1 \(first on line 1\)"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, bad_line, message):
    # the bad row sits on line 4, after a good row and two blank lines that still count as lines
    path = write_lines(tmp_path / "q.jsonl", [json.dumps(GOOD), "", "", bad_line])
    with pytest.raises(QuestionFileError, match=re.escape(f"{path}:4: ") + message):
        load_questions(path)


def test_empty_and_missing_files(tmp_path):
    assert issubclass(QuestionFileError, ValueError)
    for lines in ([], ["", "  "]):
        path = write_lines(tmp_path / "empty.jsonl", lines)
        with pytest.raises(QuestionFileError, match="empty question file"):
            load_questions(path)
    with pytest.raises(QuestionFileError, match="no such question file"):
        load_questions(tmp_path / "nope.jsonl")


def test_write_round_trips_and_keeps_text_readable(tmp_path):
    rows = [GOOD, {"question_id": "ja-1", "category": "qa-ja", "turns": ["日本語の質問です"], "reference": ["答え"]}]
    path = tmp_path / "sub" / "q.jsonl"
    assert write_questions(path, rows) == 2
    assert load_questions(path) == rows
    assert "日本語の質問です" in path.read_text(encoding="utf-8")  # not \\u-escaped


def test_write_rejects_bad_rows_before_writing(tmp_path):
    path = tmp_path / "q.jsonl"
    with pytest.raises(QuestionFileError, match="row 2: duplicate question_id 1"):
        write_questions(path, [GOOD, GOOD])
    with pytest.raises(QuestionFileError, match="row 1: missing field 'turns'"):
        write_questions(path, [{"question_id": 1, "category": "x"}])
    with pytest.raises(QuestionFileError, match="empty"):
        write_questions(path, [])
    assert not path.exists()


def test_stop_strings():
    assert stop_strings("translation-de") == ("\n",)
    assert stop_strings("translation-zh") == ("\n",)
    assert stop_strings("summarization-ja") == ("\n\n",)
    assert stop_strings("qa-en") == ("\n\n",)
    assert stop_strings("math_reasoning-en") == ("\n\n",)
    for open_ended in ("chat-de", "mt_bench-writing", "sharegpt", "some-new-benchmark"):
        assert stop_strings(open_ended) == ()
    with pytest.raises(ValueError, match="category"):
        stop_strings("")


def test_builtin_set_is_valid_and_covers_six_languages(tmp_path):
    out = tmp_path / "builtin.jsonl"
    assert build_builtin.main(["--out", str(out)]) == 0
    rows = load_questions(out)
    assert rows == builtin_rows()
    assert set(BUILTIN_LANGUAGES) == {"en", "de", "fr", "ja", "ru", "zh"}
    for lang in BUILTIN_LANGUAGES:
        mine = [r for r in rows if r["category"].endswith(f"-{lang}")]
        assert 20 <= len(mine) <= 28
        assert {r["category"] for r in mine} == {f"chat-{lang}", f"summarization-{lang}", f"qa-{lang}"}
        assert all(r["reference"] for r in mine if r["category"].startswith("qa-"))
        assert all(in_target_script(lang, r["turns"][0]) for r in mine)


def test_builtin_summaries_are_short_paragraphs():
    from importlib import import_module

    for lang in BUILTIN_LANGUAGES:
        for paragraph in import_module(f"data_processing.builtin.{lang}").SUMMARIZATION:
            sentences = re.findall(r"[.!?。！？](?:\s|$)|[。！？]", paragraph)
            assert 3 <= len(sentences) <= 4, (lang, paragraph)
