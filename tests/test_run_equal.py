"""evaluation.run resumes without losing or duplicating rows; evaluation.equal flags real mismatches."""
from __future__ import annotations

import json

import pytest
from tiny import save_tiny_checkpoint

from evaluation import equal, run
from evaluation.jsonl_store import OutputFileError, read_rows


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture
def questions(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [{"question_id": f"q{i}", "category": "translation-de" if i % 2 else "chat-en",
             "turns": [f"Frage {i}: wie spät ist es?"] + (["And then?"] if i == 4 else [])} for i in range(6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_args(checkpoint, questions, out, method="ar", *extra):
    return ["--method", method, "--target", checkpoint, "--questions", str(questions), "--out", str(out),
            "--dtype", "float32", "--max-new-tokens", "12", "--warmup", "1", *extra]


def test_resume_after_crash_keeps_every_row_once(checkpoint, questions, tmp_path, monkeypatch):
    out = tmp_path / "a.jsonl"
    real_answer = run.Runner.answer

    def crash_on_q3(self, question, seed):
        if question["question_id"] == "q3":
            raise KeyboardInterrupt  # the process is stopped mid-run
        return real_answer(self, question, seed)

    monkeypatch.setattr(run.Runner, "answer", crash_on_q3)
    with pytest.raises(KeyboardInterrupt):
        run.main(run_args(checkpoint, questions, out))
    first = read_rows(out)
    assert [r["question_id"] for r in first] == ["q0", "q1", "q2"]
    with open(out, "a") as f:
        f.write('{"question_id": "q3", "choi')  # a write cut off by the crash
    monkeypatch.setattr(run.Runner, "answer", real_answer)
    run.main(run_args(checkpoint, questions, out))
    rows = read_rows(out)
    assert [r["question_id"] for r in rows] == [f"q{i}" for i in range(6)]
    assert [r["answer_id"] for r in rows[:3]] == [r["answer_id"] for r in first]  # earlier rows untouched
    assert len(rows[4]["choices"][0]["turns"]) == 2
    run.main(run_args(checkpoint, questions, out))  # nothing left to do: no duplicates
    assert len(read_rows(out)) == 6


def test_failing_question_names_the_question(checkpoint, questions, tmp_path, monkeypatch):
    def broken(self, question, seed):
        raise ValueError("boom")

    monkeypatch.setattr(run.Runner, "answer", broken)
    with pytest.raises(RuntimeError, match="question 'q0'.*boom"):
        run.main(run_args(checkpoint, questions, tmp_path / "b.jsonl", "ar", "--warmup", "0"))


def test_other_config_refuses_to_mix_rows(checkpoint, questions, tmp_path):
    out = tmp_path / "c.jsonl"
    run.main(run_args(checkpoint, questions, out, "ar", "--limit", "1"))
    with pytest.raises(OutputFileError, match="another configuration"):
        run.main(run_args(checkpoint, questions, out, "ar", "--limit", "2", "--max-new-tokens", "5"))


def test_rows_from_before_a_new_method_option_still_resume(checkpoint, questions, tmp_path):
    """A method option added later (at its default) leaves old rows matching; a set one does not."""
    out = tmp_path / "old.jsonl"
    run.main(run_args(checkpoint, questions, out, "pld", "--limit", "1", "--warmup", "0"))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:  # as written before pld had its `max_ngram` option
        del row["config"]["method_options"]["max_ngram"]
    out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run.main(run_args(checkpoint, questions, out, "pld", "--limit", "2", "--warmup", "0"))
    assert len(read_rows(out)) == 2
    with pytest.raises(OutputFileError, match="another configuration"):
        run.main(run_args(checkpoint, questions, out, "pld", "--limit", "3", "--max-ngram", "2"))


def test_a_set_drafting_dtype_is_part_of_the_runs_configuration(checkpoint, questions, tmp_path):
    """--draft-dtype left at auto is not recorded (rows from before the option resume); a set one is, so rows drafted
    in another precision do not mix, and the speed table tells the two runs apart instead of averaging them."""
    from evaluation.answers import run_options

    auto_args, auto_options = run.settings("sd", questions, tmp_path / "a.jsonl", {"drafter": checkpoint},
                                           target=checkpoint)
    assert "draft_dtype" not in run.resolved_config(auto_args, auto_options)
    sd_args, sd_options = run.settings("sd", questions, tmp_path / "s.jsonl", {"drafter": checkpoint},
                                       target=checkpoint, draft_dtype="float32")
    current = run.resolved_config(sd_args, sd_options)
    assert current["draft_dtype"] == "float32"
    assert not run.same_config(run.resolved_config(auto_args, auto_options), current)
    assert run_options(current) == {**sd_options, "draft_dtype": "float32"}


def test_answers_drafted_by_other_weights_under_the_same_name_do_not_resume(checkpoint, questions, tmp_path):
    """A drafter or head retrained in place (or re-shipped under its `embedded:` name) changes the weights digest in
    the row's configuration; rows written before digests were recorded still resume."""
    import shutil

    drafter = tmp_path / "drafter"
    shutil.copytree(checkpoint, drafter)
    args, options = run.settings("sd", questions, tmp_path / "s.jsonl", {"drafter": str(drafter)}, target=checkpoint)
    before = run.resolved_config(args, options)
    assert before["weights"] and run.same_config(before, run.resolved_config(args, options))
    (drafter / "provenance.json").write_text("{}")  # provenance is not weights
    assert run.resolved_config(args, options) == before
    weights = next(drafter.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")  # one byte of the weights differs
    after = run.resolved_config(args, options)
    assert after["weights"] != before["weights"] and not run.same_config(before, after)
    assert run.same_config({k: v for k, v in before.items() if k != "weights"}, after)
    ar_args, ar_options = run.settings("ar", questions, tmp_path / "a.jsonl", target=checkpoint)
    assert "weights" not in run.resolved_config(ar_args, ar_options)


def test_malformed_question_file_names_the_line(checkpoint, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question_id": 1, "category": "x", "turns": ["hi"]}\n{"question_id": 2, "turns": []}\n')
    with pytest.raises(ValueError, match=":2"):
        run.main(run_args(checkpoint, bad, tmp_path / "d.jsonl"))


def test_equal_accepts_lossless_and_flags_mismatches(checkpoint, questions, tmp_path, capsys):
    base, pld = tmp_path / "ar.jsonl", tmp_path / "pld.jsonl"
    run.main(run_args(checkpoint, questions, base, "ar"))
    run.main(run_args(checkpoint, questions, pld, "pld"))
    equal.main(["--baseline", str(base), "--answers", str(pld), "--tie-tolerance", "0"])
    assert "7/7 turns identical (100.0%)" in capsys.readouterr().out
    rows = read_rows(pld)
    tampered = tmp_path / "tampered.jsonl"
    ids = rows[0]["choices"][0]["token_ids"][0]
    ids[3] = (ids[3] + 1) % 200 + 3
    rows[1]["choices"][0]["token_ids"][0] = rows[1]["choices"][0]["token_ids"][0][:-2]
    tampered.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SystemExit, match="2 divergence"):
        equal.main(["--baseline", str(base), "--answers", str(tampered), "--tie-tolerance", "0"])
    out = capsys.readouterr().out
    assert "5/7 turns identical" in out and "MISMATCH" in out and "LENGTH MISMATCH" in out


def test_rows_record_each_forwards_draft_depth(checkpoint, questions, tmp_path):
    """Per target forward: tokens emitted and how deep its draft reached (the prefill drafts nothing)."""
    out = tmp_path / "depths.jsonl"
    run.main(run_args(checkpoint, questions, out, "sd", "--drafter", checkpoint, "--gamma", "3", "--limit", "2"))
    for row in read_rows(out):
        choice = row["choices"][0]
        assert len(choice["draft_depths"]) == len(choice["accept_lengths"])
        assert choice["draft_depths"][0] == 0 and set(choice["draft_depths"][1:]) == {3}  # a self-drafting chain of 3
        assert all(a == 4 for a in choice["accept_lengths"][1:-1])  # every draft token accepted


def test_resume_after_sigkill_of_the_process(checkpoint, tmp_path):
    """A real kill -9 mid-run (no clean-up, no flush at exit): the rerun keeps every row already written, answers the
    rest exactly once, and its answers equal an uninterrupted run's."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    questions = tmp_path / "many.jsonl"
    questions.write_text("".join(json.dumps({"question_id": f"q{i}", "category": "chat-en", "turns": [f"Frage {i}"]})
                                 + "\n" for i in range(40)))
    killed, whole = tmp_path / "killed.jsonl", tmp_path / "whole.jsonl"
    argv = ["--method", "pld", "--target", checkpoint, "--questions", str(questions), "--dtype", "float32",
            "--max-new-tokens", "24", "--warmup", "0"]
    child = subprocess.Popen([sys.executable, "-m", "evaluation.run", *argv, "--out", str(killed)], cwd=root,
                             env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None and \
            (not killed.exists() or killed.read_text().count("\n") < 3):
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    before = killed.read_bytes()
    done = before.count(b"\n")
    assert 3 <= done < 40, f"the kill came too late to test anything ({done} rows)"
    run.main([*argv, "--out", str(killed)])
    after = read_rows(killed)
    assert killed.read_bytes().startswith(before.rsplit(b"\n", 1)[0])  # every complete row kept, byte for byte
    assert sorted(r["question_id"] for r in after) == sorted(f"q{i}" for i in range(40))
    run.main([*argv, "--out", str(whole)])
    tokens = lambda rows: {r["question_id"]: r["choices"][0]["token_ids"] for r in rows}  # noqa: E731
    assert tokens(after) == tokens(read_rows(whole))
