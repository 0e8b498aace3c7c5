"""Configurations answered side by side on one loaded target: question by question, every run lossless,
a rerun resumes only what is missing, and the speed table compares every run with the first."""
from __future__ import annotations

import pytest
from test_drafter_matrix import write_questions
from test_eagle import random_head
from tiny import save_tiny_checkpoint

from evaluation import equal, side_by_side
from evaluation.answers import load_answers
from model.common.zoo import load_model


def test_runs_interleave_and_resume(tmp_path):
    target = save_tiny_checkpoint(tmp_path / "target", seed=0)
    write_questions(tmp_path, count=3)
    model, _ = load_model(target, dtype="float32", device="cpu")
    head = random_head(model, tmp_path / "head", seed=1)
    out = tmp_path / "sbs"
    runs = {"ar": "--method ar", "pld": "--method pld --seed 8",
            "small": f"--method eagle2 --head {head} --total-tokens 4 --depth 2 --top-k 2",
            "large": f"--method eagle2 --head {head} --total-tokens 12 --depth 4 --top-k 3"}
    argv = ["--questions", str(tmp_path / "q_de.jsonl"), "--out-dir", str(out), "--target", target,
            "--dtype", "float32", "--max-new-tokens", "10", *(f"--run={k}={v}" for k, v in runs.items()),
            "--warmup", "0", "--seed", "7"]  # not side_by_side's own options: passed to every run
    report = side_by_side.main(argv)
    rows = {name: load_answers(out / f"{name}.jsonl") for name in runs}
    assert all(len(r) == 3 for r in rows.values())
    assert [r[0]["config"]["seed"] for r in rows.values()] == [7, 8, 7, 7]  # a run's own option wins
    for q in range(2):  # every run answered question q before any run started question q + 1
        assert max(r[q]["tstamp"] for r in rows.values()) < min(r[q + 1]["tstamp"] for r in rows.values())
    for name in ("pld", "small", "large"):
        equal.main(["--baseline", str(out / "ar.jsonl"), "--answers", str(out / f"{name}.jsonl"), "--tie-tolerance", "0"])
    assert "total_tokens=4" in report and "total_tokens=12" in report and "pld" in report
    assert (out / "speed.md").read_text() == report

    kept = (out / "small.jsonl").read_text().splitlines(keepends=True)
    (out / "small.jsonl").write_text(kept[0])  # as if interrupted after the first question
    before = {name: (out / f"{name}.jsonl").read_text() for name in ("ar", "pld", "large")}
    side_by_side.main(argv)
    assert [r["question_id"] for r in load_answers(out / "small.jsonl")] == [0, 1, 2]
    assert {name: (out / f"{name}.jsonl").read_text() for name in before} == before  # nothing answered twice


def test_bad_runs(tmp_path):
    common = ["--questions", "q.jsonl", "--out-dir", str(tmp_path)]
    with pytest.raises(SystemExit, match="expected NAME="):
        side_by_side.main([*common, "--run", "--method ar"])
    with pytest.raises(SystemExit, match="shared by all runs"):
        side_by_side.main([*common, "--run", "a=--method ar --limit 3"])
    with pytest.raises(SystemExit, match="given twice"):
        side_by_side.main([*common, "--run", "a=--method ar", "--run", "a=--method pld"])


def test_settings_from_python_are_the_command_line_s():
    """Studies build runs with run.settings instead of argument lists: the same settings, the same checks."""
    from data_processing.errors import InputError
    from evaluation import run
    from model.registry import MethodError

    typed = run.parse_args(["--method", "sd", "--questions", "q.jsonl", "--out", "o.jsonl", "--drafter", "d",
                            "--gamma", "3", "--limit", "5", "--dtype", "float32", "--seed", "2"])
    built = run.settings("sd", "q.jsonl", "o.jsonl", {"drafter": "d", "gamma": 3}, limit=5, dtype="float32", seed=2)
    assert vars(built[0]) == vars(typed[0]) and built[1] == typed[1]
    assert vars(run.settings("ar", "q", "o")[0]) == vars(run.parse_args(["--method", "ar", "--questions", "q",
                                                                          "--out", "o"])[0])
    with pytest.raises(InputError, match="no setting"):
        run.settings("ar", "q", "o", max_tokens=3)
    with pytest.raises(MethodError, match="no option"):
        run.settings("sd", "q", "o", {"gama": 3})


def test_runs_that_do_not_share_the_target_s_settings_are_refused(tmp_path):
    from data_processing.errors import InputError
    from evaluation import run

    runs = {"ar": run.settings("ar", "q.jsonl", tmp_path / "ar.jsonl", max_new_tokens=8),
            "pld": run.settings("pld", "q.jsonl", tmp_path / "pld.jsonl", max_new_tokens=9)}
    with pytest.raises(InputError, match=r"run 'pld': \['max_new_tokens'\]"):
        side_by_side.answer_side_by_side(runs)
    assert not list(tmp_path.iterdir())  # refused before any file is opened
