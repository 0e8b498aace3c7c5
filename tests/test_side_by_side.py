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
    runs = {"ar": "--method ar --warmup 0", "pld": "--method pld --warmup 0",
            "small": f"--method eagle2 --head {head} --total-tokens 4 --depth 2 --top-k 2 --warmup 0",
            "large": f"--method eagle2 --head {head} --total-tokens 12 --depth 4 --top-k 3 --warmup 0"}
    argv = ["--questions", str(tmp_path / "q_de.jsonl"), "--out-dir", str(out), "--target", target,
            "--dtype", "float32", "--max-new-tokens", "10", *(f"--run={k}={v}" for k, v in runs.items())]
    report = side_by_side.main(argv)
    rows = {name: load_answers(out / f"{name}.jsonl") for name in runs}
    assert all(len(r) == 3 for r in rows.values())
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
