"""Self-distillation: resumes after a crash with no lost or duplicated rows; the OpenAI backend retries
on 429/500 against a real local HTTP server and resumes too."""
from __future__ import annotations

import json

import pytest
from http_servers import scripted_endpoint
from tiny import save_tiny_checkpoint

from data_generation import generate
from data_generation.local_backend import LocalBackend
from data_generation.openai_backend import OpenAIBackend
from data_generation.prompts import PromptFileError, read_prompts
from evaluation.jsonl_store import JsonlStore, read_rows
from model.common.zoo import load_model


@pytest.fixture
def pool(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Translate German to English: Satz {i}\nEnglish:",
                                        "text": f"Satz {i}"}) + "\n" for i in range(5)))
    return path


def test_local_distillation_resumes_after_crash(tmp_path, pool):
    model, tokenizer = load_model(save_tiny_checkpoint(tmp_path / "tiny"), dtype="float32", device="cpu")
    backend = LocalBackend(model, tokenizer, max_new_tokens=6, stop_strings=("\n",))
    prompts, temps, out = read_prompts(pool), [0.0, 1.0], tmp_path / "d.jsonl"

    class CrashAfterTwoChunks:
        calls = 0

        def complete(self, *args):
            CrashAfterTwoChunks.calls += 1
            if CrashAfterTwoChunks.calls > 2:
                raise KeyboardInterrupt
            return backend.complete(*args)

    with pytest.raises(KeyboardInterrupt), JsonlStore(out) as store:
        generate.distill(CrashAfterTwoChunks(), prompts, temps, store, chunk_size=3, seed=0, stops=("\n",))
    with open(out, "a") as f:
        f.write('{"id": "p3@t0", "conv')  # cut off mid-write
    before = read_rows(out)
    assert 0 < len(before) < 10
    with JsonlStore(out) as store:
        generate.distill(backend, prompts, temps, store, chunk_size=3, seed=0, stops=("\n",))
    rows = read_rows(out)
    assert sorted(r["id"] for r in rows) == sorted(f"p{i}@t{t:g}" for i in range(5) for t in temps)
    assert rows[: len(before)] == before
    assert all("\n" not in r["conversations"][1]["value"] for r in rows)
    greedy = {r["source_id"]: r["conversations"][1]["value"] for r in rows if r["temperature"] == 0}
    assert greedy["p0"] == backend.complete([prompts[0][1]], 0.0, 0)[0][0].split("\n")[0]


def source_sentence(prompt: str) -> str:
    return prompt.split(": ", 1)[1].split("\n")[0]


def flaky_completion(body: dict, n: int) -> tuple[int, dict]:
    """An OpenAI-style /v1/completions answer: 429, then 500, then success."""
    if n <= 2:
        return (429 if n == 1 else 500), {"error": {"message": "busy"}}
    return 200, {"id": f"c{n}", "object": "text_completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "text": f" {source_sentence(body['prompt'])} in English\nmore", "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}


def test_openai_backend_retries_and_resumes(tmp_path, pool):
    with scripted_endpoint(flaky_completion) as (url, requests):
        backend = OpenAIBackend(url, "tiny", 8, ("\n",), concurrency=1)
        out = tmp_path / "o.jsonl"
        with JsonlStore(out) as store:
            generate.distill(backend, read_prompts(pool), [0.7], store, chunk_size=4, seed=0, stops=("\n",))
        rows = read_rows(out)
        assert len(rows) == 5 and len(requests) == 7  # 5 answers + one 429 + one 500 retried
        assert [r["conversations"][1]["value"] for r in rows] == [f" Satz {i} in English" for i in range(5)]
        with JsonlStore(out) as store:  # resume: nothing left, no request sent
            generate.distill(backend, read_prompts(pool), [0.7], store, chunk_size=4, seed=0, stops=("\n",))
        assert len(requests) == 7 and len(read_rows(out)) == 5


def test_prompt_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "x"}\n{"text": "no prompt"}\n')
    with pytest.raises(PromptFileError, match="bad.jsonl:2"):
        read_prompts(bad)
    with pytest.raises(PromptFileError, match="does not exist"):
        read_prompts(tmp_path / "missing.jsonl")
