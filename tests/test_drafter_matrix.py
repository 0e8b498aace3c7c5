"""The language x drafter matrix end to end on a tiny target: every cell is measured against the same
language's ar, every sd run is lossless, a rerun answers nothing twice, and the own/generic ratios are the
cells' quotients."""
from __future__ import annotations

import json

import pytest
from test_eagle import random_head
from test_size_sweep import save_drafter
from tiny import save_tiny_checkpoint

from data_processing.errors import InputError
from evaluation import drafter_matrix, equal
from evaluation.answers import load_answers
from model.common.zoo import load_model


def write_questions(folder, count: int = 3) -> None:
    for lang, word in (("de", "Satz"), ("fr", "phrase")):
        (folder / f"q_{lang}.jsonl").write_text("".join(
            json.dumps({"question_id": i, "category": f"translation-{lang}", "turns": [f"Translate: {word} {i}\nEnglish:"]}) + "\n"
            for i in range(count)))


def test_matrix_end_to_end(tmp_path):
    target = save_tiny_checkpoint(tmp_path / "target", seed=0)
    write_questions(tmp_path)
    drafters = {"de": save_drafter(tmp_path / "d-de", 1), "generic": save_drafter(tmp_path / "d-gen", 2)}
    out = tmp_path / "matrix"
    argv = ["--drafters", *(f"{k}={v}" for k, v in drafters.items()), "--langs", "de", "fr", "--generic", "generic",
            "--questions", str(tmp_path / "q_{lang}.jsonl"), "--target", target, "--out-dir", str(out),
            "--limit", "3", "--gamma", "3", "--max-new-tokens", "10", "--dtype", "float32", "--warmup", "0"]
    result = drafter_matrix.main(argv)
    cells = result["cells"]
    assert set(cells) == {"de", "fr"} and all(set(row) == {"de", "generic"} for row in cells.values())
    for lang in ("de", "fr"):
        assert len(load_answers(out / lang / "ar.jsonl")) == 3
        for name in drafters:
            equal.main(["--baseline", str(out / lang / "ar.jsonl"), "--answers", str(out / lang / f"{name}.jsonl"),
                        "--tie-tolerance", "0"])
            cell, sd, ar = cells[lang][name], load_answers(out / lang / f"{name}.jsonl"), load_answers(out / lang / "ar.jsonl")
            lengths = [n for row in sd for n in row["choices"][0]["accept_lengths"]]  # the cell, by hand from its file
            assert cell["MAT"] == pytest.approx(sum(lengths) / len(lengths))
            rate = lambda row: sum(row["choices"][0]["new_tokens"]) / sum(row["choices"][0]["wall_time"])  # noqa: E731
            assert cell["speedup"] == pytest.approx(sum(map(rate, sd)) / sum(map(rate, ar)))
    [special] = result["specialization"]  # only de has its own drafter
    assert special["lang"] == "de"
    assert special["MAT_ratio"] == pytest.approx(cells["de"]["de"]["MAT"] / cells["de"]["generic"]["MAT"])
    for name in ("matrix.md", "matrix.json", "matrix.png"):
        assert (out / name).stat().st_size > 0
    assert "own-language drafter / generic" in (out / "matrix.md").read_text()
    rows_before = (out / "de" / "ar.jsonl").read_text()
    drafter_matrix.main(argv)  # a rerun resumes: nothing is answered twice
    assert (out / "de" / "ar.jsonl").read_text() == rows_before


def test_matrix_of_draft_heads(tmp_path):
    """Per-language EAGLE heads against a multilingual one: the same matrix, drafting with --head."""
    target = save_tiny_checkpoint(tmp_path / "target", seed=0)
    write_questions(tmp_path, count=2)
    model, _ = load_model(target, dtype="float32", device="cpu")
    heads = {"fr": random_head(model, tmp_path / "h-fr", seed=1), "multi": random_head(model, tmp_path / "h-multi", seed=2)}
    out = tmp_path / "matrix"
    result = drafter_matrix.main([
        "--method", "eagle2", "--method-args", "--total-tokens 8 --depth 3 --top-k 3",
        "--drafters", *(f"{k}={v}" for k, v in heads.items()), "--langs", "de", "fr", "--generic", "multi",
        "--questions", str(tmp_path / "q_{lang}.jsonl"), "--target", target, "--out-dir", str(out),
        "--limit", "2", "--max-new-tokens", "10", "--dtype", "float32", "--warmup", "0"])
    for lang in ("de", "fr"):
        for name in heads:
            rows = load_answers(out / lang / f"{name}.jsonl")
            assert {row["method"] for row in rows} == {"eagle2"}
            assert rows[0]["config"]["method_options"]["total_tokens"] == 8
            equal.main(["--baseline", str(out / lang / "ar.jsonl"), "--answers", str(out / lang / f"{name}.jsonl"),
                        "--tie-tolerance", "0"])
    assert [row["lang"] for row in result["specialization"]] == ["fr"]
    assert "MAT of eagle2" in (out / "matrix.md").read_text()


def test_bad_drafter_arguments(tmp_path):
    with pytest.raises(InputError, match="NAME=PATH"):
        drafter_matrix.main(["--drafters", "no-equals-sign", "--langs", "de", "--out-dir", str(tmp_path)])
    with pytest.raises(InputError, match="is not one of the drafters"):
        drafter_matrix.main(["--drafters", "de=x", "--langs", "de", "--generic", "gen", "--out-dir", str(tmp_path)])
    with pytest.raises(InputError, match="no question file"):
        drafter_matrix.main(["--drafters", "de=x", "--langs", "xx", "--out-dir", str(tmp_path),
                             "--questions", str(tmp_path / "missing_{lang}.jsonl")])
