"""Online benchmark loaders on tiny local files in each data set's schema (no network), and their errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_processing import build_online
from data_processing.online import BENCHMARKS, OnlineSourceError, load_benchmark
from data_processing.online_schemas import SchemaError
from data_processing.questions import load_questions, stop_strings


@pytest.fixture(autouse=True)
def datasets_cache_in_tmp(tmp_path, monkeypatch):
    """Keep the arrow cache `datasets` builds from local files out of the user's home."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def run(benchmark: str, data: Path, out: Path, n: int = 80) -> list[dict]:
    assert build_online.main(["--benchmark", benchmark, "--n", str(n), "--data-files", str(data), "--out", str(out)]) == 0
    return load_questions(out)


WMT_CASES = [("wmt16-de-en", "de", "German"), ("wmt14-fr-en", "fr", "French"), ("wmt16-ru-en", "ru", "Russian"),
             ("wmt19-zh-en", "zh", "Chinese"), ("jparacrawl-ja-en", "ja", "Japanese")]


@pytest.mark.parametrize("benchmark, lang, name", WMT_CASES)
def test_translation_benchmarks(tmp_path, benchmark, lang, name):
    records = [{"translation": {lang: f"satz {i} {lang}", "en": f"sentence {i}"}} for i in range(5)]
    records.insert(2, {"translation": {lang: "", "en": "an empty source is skipped"}})
    rows = run(benchmark, write_jsonl(tmp_path / "in.jsonl", records), tmp_path / "q.jsonl", n=4)
    assert [r["question_id"] for r in rows] == [f"{benchmark}-{i:04d}" for i in range(1, 5)]
    assert rows[0]["turns"] == [f"Translate {name} to English: satz 0 {lang}\nEnglish:"]
    assert [r["reference"] for r in rows] == [["sentence 0"], ["sentence 1"], ["sentence 2"], ["sentence 3"]]
    assert all(stop_strings(r["category"]) == ("\n",) for r in rows)


def test_mt_bench_both_schemas(tmp_path):
    h4 = [{"prompt": ["Write a poem.", "Now shorter."], "prompt_id": 81, "category": "writing", "reference": []},
          {"prompt": ["What is 2+2?"], "prompt_id": 82, "category": "math", "reference": ["4"]}]
    rows = run("mt-bench", write_jsonl(tmp_path / "h4.jsonl", h4), tmp_path / "a.jsonl")
    assert rows == [
        {"question_id": 81, "category": "mt_bench-writing", "turns": ["Write a poem.", "Now shorter."]},
        {"question_id": 82, "category": "mt_bench-math", "turns": ["What is 2+2?"], "reference": ["4"]},
    ]
    fastchat = [{"question_id": 101, "category": "coding", "turns": ["Write a loop.", "Explain it."]}]
    rows = run("mt-bench", write_jsonl(tmp_path / "fc.jsonl", fastchat), tmp_path / "b.jsonl")
    assert rows == [{"question_id": 101, "category": "mt_bench-coding", "turns": ["Write a loop.", "Explain it."]}]
    assert stop_strings(rows[0]["category"]) == ()


def test_gsm8k(tmp_path):
    records = [{"question": "Tom has 3 apples and buys 2 more. How many?", "answer": "3 + 2 = 5\n#### 5"}]
    rows = run("gsm8k", write_jsonl(tmp_path / "g.jsonl", records), tmp_path / "q.jsonl")
    assert rows == [{"question_id": "gsm8k-0001", "category": "math_reasoning-en",
                     "turns": ["Question: Tom has 3 apples and buys 2 more. How many?\nAnswer:"],
                     "reference": ["3 + 2 = 5\n#### 5"]}]


def test_xlsum_ja_from_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = {"id": ["a", "b"], "url": ["u", "u"], "title": ["t", "t"],
               "summary": ["短い要約です。", "長すぎる記事"], "text": ["記事の本文です。二文目です。", "あ" * 5000]}
    pq.write_table(pa.table(records), tmp_path / "x.parquet")
    rows = run("xlsum-ja", tmp_path / "x.parquet", tmp_path / "q.jsonl")
    assert len(rows) == 1  # the 5000-character article is skipped
    assert rows[0]["category"] == "summarization-ja" and rows[0]["reference"] == ["短い要約です。"]
    assert "記事の本文です。二文目です。" in rows[0]["turns"][0]


def test_sharegpt(tmp_path):
    records = [
        {"id": "c1", "conversations": [{"from": "human", "value": "Hi, can you help?"}, {"from": "gpt", "value": "Yes."},
                                       {"from": "human", "value": "Explain tides."}]},
        {"id": "c2", "conversations": [{"from": "gpt", "value": "I start, so I am skipped."}]},
        {"id": "c1", "conversations": [{"from": "human", "value": "repeated id"}]},
        {"id": "c3", "conversations": []},
        {"id": "c4", "conversations": [{"from": "human", "value": "Bonjour !"}]},
    ]
    rows = run("sharegpt", write_jsonl(tmp_path / "s.jsonl", records), tmp_path / "q.jsonl")
    assert rows == [{"question_id": "c1", "category": "sharegpt", "turns": ["Hi, can you help?", "Explain tides."]},
                    {"question_id": "c4", "category": "sharegpt", "turns": ["Bonjour !"]}]


def test_every_benchmark_has_a_local_test():
    tested = {b for b, _, _ in WMT_CASES} | {"mt-bench", "gsm8k", "xlsum-ja", "sharegpt"}
    assert tested == set(BENCHMARKS)


def test_wrong_schema_names_the_missing_field(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(SchemaError, match=r"record 0: missing field 'translation'.*\"de\": str"):
        load_benchmark("wmt16-de-en", 5, [data])


def test_network_failure_points_to_data_files():
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub")

    with pytest.raises(OnlineSourceError, match=r"(?s)wmt/wmt16.*ConnectionError.*--data-files"):
        load_benchmark("wmt16-de-en", 5, load=offline)


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown benchmark 'wmt99'"):
        load_benchmark("wmt99", 5)
    with pytest.raises(OnlineSourceError, match="--data-files not found"):
        load_benchmark("gsm8k", 5, [tmp_path / "missing.jsonl"])
    (tmp_path / "a.csv").write_text("question,answer\n")
    with pytest.raises(OnlineSourceError, match="must all be .json/.jsonl or all .parquet"):
        load_benchmark("gsm8k", 5, [tmp_path / "a.csv"])
    empty = write_jsonl(tmp_path / "e.jsonl", [{"question": "", "answer": "x"}])
    assert build_online.main(["--benchmark", "gsm8k", "--data-files", str(empty), "--out", str(tmp_path / "q")]) == 2
    assert "no usable rows" in capsys.readouterr().err
