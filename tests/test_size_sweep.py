"""Leviathan's formula on hand-computed values, the size sweep end to end on tiny models, and int8
quantized drafters and targets staying lossless against `ar` of the same (quantized) target."""
from __future__ import annotations

import json

import pytest
from tiny import byte_tokenizer, save_tiny_checkpoint, tiny_llama

from evaluation import equal, run, size_sweep
from evaluation.jsonl_store import OutputFileError
from evaluation.leviathan import alpha_from_tokens, expected_speedup, expected_tokens


def test_leviathan_formula_by_hand():
    # α=0.8, γ=4: (1 - 0.8^5) / 0.2 = 0.67232 / 0.2 = 3.3616 tokens; c=0.1: 3.3616 / 1.4 = 2.40114...
    assert expected_tokens(0.8, 4) == pytest.approx(3.3616)
    assert expected_speedup(0.8, 4, 0.1) == pytest.approx(2.401142857)
    assert expected_speedup(0.5, 2, 0.0) == pytest.approx(1.75)  # (1 - 0.125) / 0.5
    assert expected_speedup(0.5, 3, 0.1, verify=1.2) == pytest.approx(1.25)  # 1.875 / (0.3 + 1.2)
    assert expected_tokens(0.0, 3) == 1.0 and expected_tokens(1.0, 3) == 4.0
    assert alpha_from_tokens(3.3616, 4) == pytest.approx(0.8, abs=1e-9)
    assert alpha_from_tokens(1.0, 4) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError):
        alpha_from_tokens(6.0, 4)


def save_drafter(folder, layers: int) -> str:
    tiny_llama(vocab_size=len(byte_tokenizer()), seed=3, layers=layers).save_pretrained(str(folder))
    byte_tokenizer().save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    target = save_tiny_checkpoint(d / "target", seed=0)
    questions = d / "q.jsonl"
    questions.write_text("".join(json.dumps({"question_id": i, "category": "translation-de",
                                             "turns": [f"Translate German to English: Satz {i}\nEnglish:"]}) + "\n"
                                 for i in range(3)))
    return d, target, str(questions)


def test_size_sweep_end_to_end(tiny_setup):
    d, target, questions = tiny_setup
    drafters = [save_drafter(d / "small", 1), save_drafter(d / "large", 3)]
    argv = ["--drafters", *drafters, "--questions", questions, "--target", target, "--out-dir", str(d / "sweep"),
            "--gammas", "1", "3", "--limit", "3", "--max-new-tokens", "12", "--dtype", "float32", "--warmup", "0"]
    rows = size_sweep.main(argv)
    assert [(r["drafter"], r["gamma"]) for r in rows] == [("small", 1), ("small", 3), ("large", 1), ("large", 3)]
    assert rows[0]["params_M"] < rows[2]["params_M"]
    ar = [json.loads(line)["choices"][0] for line in (d / "sweep" / "ar.jsonl").read_text().splitlines()]
    for r in rows:  # every number of a row, recomputed by hand from its answer file and ar's
        sd = [json.loads(line)["choices"][0] for line in
              (d / "sweep" / f"sd-{r['drafter']}-g{r['gamma']}.jsonl").read_text().splitlines()]
        steps = [n for c in sd for n in c["accept_lengths"][1:]]  # one turn each: the first entry is the prefill
        tokens = sum(steps) / len(steps)
        assert r["tokens_per_step"] == pytest.approx(tokens)
        assert 0 <= r["alpha"] <= 1 and expected_tokens(r["alpha"], r["gamma"]) == pytest.approx(tokens, abs=1e-6)
        assert r["MAT"] == pytest.approx(sum(n for c in sd for n in c["accept_lengths"]) /
                                         sum(len(c["accept_lengths"]) for c in sd))
        rate = lambda c: sum(c["new_tokens"]) / sum(c["wall_time"])  # noqa: E731
        assert r["speedup"] == pytest.approx(sum(map(rate, sd)) / sum(map(rate, ar)))
        assert r["cost_ratio"] > 0 and r["verify"] > 0
        assert r["predicted"] == pytest.approx(expected_tokens(r["alpha"], r["gamma"]) / (r["gamma"] * r["cost_ratio"] + 1))
        assert r["predicted_v"] == pytest.approx(
            expected_tokens(r["alpha"], r["gamma"]) / (r["gamma"] * r["cost_ratio"] + r["verify"]))
    assert rows[0]["verify"] == rows[2]["verify"]  # the target's own cost, measured once per γ
    for name in ("sweep.md", "sweep.csv", "sweep.json", "speedup.png"):
        assert (d / "sweep" / name).stat().st_size > 0
    answered = [len((d / "sweep" / f"{name}.jsonl").read_text().splitlines()) for name in ("ar", "sd-small-g1", "sd-large-g3")]
    assert answered == [3, 3, 3]
    before = {f.name: f.read_text() for f in (d / "sweep").glob("*.jsonl")}
    size_sweep.main(argv)  # a rerun resumes: nothing is answered twice
    assert {f.name: f.read_text() for f in (d / "sweep").glob("*.jsonl")} == before
    for drafter in ("small", "large"):  # every sd run is lossless against ar
        equal.main(["--baseline", str(d / "sweep" / "ar.jsonl"), "--answers", str(d / "sweep" / f"sd-{drafter}-g3.jsonl"),
                    "--tie-tolerance", "0"])


def test_quantized_drafter_stays_lossless_and_quantized_target_is_recorded(tiny_setup):
    d, target, questions = tiny_setup
    drafter = save_drafter(d / "q-drafter", 2)
    common = ["--target", target, "--questions", questions, "--dtype", "float32", "--max-new-tokens", "16", "--warmup", "0"]
    run.main(["--method", "ar", "--out", str(d / "ar-fp32.jsonl"), *common])
    run.main(["--method", "sd", "--drafter", drafter, "--quantize", "--gamma", "3", "--out", str(d / "sd-q-drafter.jsonl"), *common])
    equal.main(["--baseline", str(d / "ar-fp32.jsonl"), "--answers", str(d / "sd-q-drafter.jsonl"), "--tie-tolerance", "0"])
    # an int8 target is another target: its rows say so, and its answers are compared with its own ar
    # (not asserted equal: dynamic quantization scales activations per forward, see the README)
    run.main(["--method", "ar", "--out", str(d / "ar-int8.jsonl"), "--quantize-target", *common])
    rows = [json.loads(line) for line in (d / "ar-int8.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and rows[0]["config"]["quantize_target"] is True
    with pytest.raises(OutputFileError, match="another configuration"):  # never mixed into an fp32 answer file
        run.main(["--method", "ar", "--out", str(d / "ar-fp32.jsonl"), "--quantize-target", *common])
