"""Command-line traps: `--stop '\n'` means a newline in every tool that takes stop strings, and `--help` without
`--method` prints the shared options and every method instead of an error."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from data_generation.generate import build_parser as generate_parser
from data_processing.questions import parse_stop
from evaluation.run import parse_args as run_args
from model.registry import METHODS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("typed, meant", [("\\n", "\n"), ("\n", "\n"), ("\\n\\n", "\n\n"), ("English:", "English:"),
                                          ("ä\\n", "ä\n"), ("。", "。"), ("\\\\n", "\\n"), ("\\t", "\t")])
def test_stop_escapes_mean_the_same_in_every_tool(typed, meant):
    assert parse_stop(typed) == meant
    args, _ = run_args(["--method", "ar", "--questions", "q.jsonl", "--out", "a.jsonl", "--stop", typed])
    assert args.stop == [meant]
    assert generate_parser().parse_args(["--prompts", "p.jsonl", "--out", "o.jsonl", "--stop", typed]).stop == [meant]


def test_an_empty_stop_string_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        run_args(["--method", "ar", "--questions", "q", "--out", "a", "--stop", ""])
    assert exit_.value.code == 2 and "empty stop string" in capsys.readouterr().err


def test_side_by_side_runs_receive_the_decoded_stop(tmp_path):
    """side_by_side hands --stop to each run's own parser: the same decoding."""
    from evaluation.run import AnswerRun

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question_id": "1", "category": "translation-de", "turns": ["Hallo"]}\n')
    with AnswerRun(["--method", "pld", "--questions", str(questions), "--out", str(tmp_path / "a.jsonl"),
                    "--stop", "\\n"]) as run:
        assert run.config["stop"] == ["\n"]


def test_help_without_method_lists_every_method():
    done = subprocess.run([sys.executable, "-m", "evaluation.run", "--help"], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--max-new-tokens" in done.stdout and "--method M --help" in done.stdout
    assert all(method in done.stdout for method in METHODS)
    with pytest.raises(SystemExit) as exit_:  # a real run still needs a method
        run_args(["--questions", "q", "--out", "a"])
    assert exit_.value.code == 2
