"""Self-distillation: continuous batching answers greedily exactly as one prompt at a time through `generate`
and samples from the target's distribution; resumes after a crash with no lost or duplicated rows; the OpenAI
backend retries on 429/500 against a real local HTTP server and resumes too."""
from __future__ import annotations

import json

import pytest
import torch
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


# stop strings that cut the tiny models' answers after 1..12 tokens, so rows leave and join a running batch
TINY_STOPS = ("B", "q", "^", "*", "-", ">")


@pytest.mark.parametrize("kind", ["llama", "gemma"])
def test_continuous_batching_answers_as_one_prompt_at_a_time(tmp_path, kind):
    """Rows of different lengths leave the batch and new prompts join mid-run (3 slots for 16 prompts); the tiny
    Gemma's 6-token sliding window sees the left-padded merged cache. Five one-token prompts (nothing to prefill
    but the token the first step feeds) fill the first join and all of the second, which joins a running batch."""
    model, tokenizer = load_model(save_tiny_checkpoint(tmp_path / kind, kind=kind), dtype="float32", device="cpu")
    prompts = [f"Satz {'x' * i} {i}:" for i in range(11)] + list("Sxa1:")
    assert all(len(tokenizer(p).input_ids) == 1 for p in prompts[11:])
    answers = LocalBackend(model, tokenizer, 12, TINY_STOPS, batch_size=3).complete(prompts, 0.0, 0)
    expected = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             stop_strings=list(TINY_STOPS), tokenizer=tokenizer)[0, ids.input_ids.shape[1]:].tolist()
        expected.append((tokenizer.decode(out, skip_special_tokens=True), len(out)))
    assert answers == expected
    assert len({n for _, n in answers}) >= 3  # the run really mixed lengths (and so refilled a running batch)


def test_continuous_batching_samples_the_target_distribution(tmp_path):
    """2,000 one-token answers at temperature 0.7 against softmax(logits / 0.7), by answer text (tokens that decode
    alike pooled): chi-square over the 6 likeliest texts and the rest (6 degrees of freedom; 22.5 is the 0.999
    quantile)."""
    model, tokenizer = load_model(save_tiny_checkpoint(tmp_path / "tiny"), dtype="float32", device="cpu")
    prompt = "Satz 7:"
    with torch.inference_mode():
        logits = model(**tokenizer(prompt, return_tensors="pt")).logits[0, -1]
    by_text: dict[str, float] = {}
    for token, p in enumerate(torch.softmax(logits / 0.7, dim=-1).tolist()):
        text = tokenizer.decode([token], skip_special_tokens=True)
        by_text[text] = by_text.get(text, 0.0) + p
    top = sorted(by_text, key=by_text.get, reverse=True)[:6]
    n = 2000
    answers = [text for text, _ in LocalBackend(model, tokenizer, 1, batch_size=500).complete([prompt] * n, 0.7, seed=3)]
    counts = [answers.count(t) for t in top] + [sum(a not in top for a in answers)]
    expected = [n * by_text[t] for t in top] + [n * (1 - sum(by_text[t] for t in top))]
    chi2 = sum((c - e) ** 2 / e for c, e in zip(counts, expected))
    assert chi2 < 22.5, (counts, expected)


def test_local_distillation_resumes_after_crash(tmp_path, pool):
    model, tokenizer = load_model(save_tiny_checkpoint(tmp_path / "tiny"), dtype="float32", device="cpu")
    backend = LocalBackend(model, tokenizer, max_new_tokens=6, stop_strings=("\n",), batch_size=2)
    prompts, temps, out = read_prompts(pool), [0.0, 1.0], tmp_path / "d.jsonl"

    class CrashAfterThreeAnswers:
        def stream(self, *args):
            for number, answer in enumerate(backend.stream(*args)):
                if number == 3:
                    raise KeyboardInterrupt
                yield answer

    with pytest.raises(KeyboardInterrupt), JsonlStore(out) as store:
        generate.distill(CrashAfterThreeAnswers(), prompts, temps, store, seed=0, stops=("\n",))
    with open(out, "a") as f:
        f.write('{"id": "p3@t0", "conv')  # cut off mid-write
    before = read_rows(out)
    assert len(before) == 3
    with JsonlStore(out) as store:
        generate.distill(backend, prompts, temps, store, seed=0, stops=("\n",))
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
            generate.distill(backend, read_prompts(pool), [0.7], store, seed=0, stops=("\n",))
        rows = read_rows(out)
        assert len(rows) == 5 and len(requests) == 7  # 5 answers + one 429 + one 500 retried
        assert [r["conversations"][1]["value"] for r in rows] == [f" Satz {i} in English" for i in range(5)]
        with JsonlStore(out) as store:  # resume: nothing left, no request sent
            generate.distill(backend, read_prompts(pool), [0.7], store, seed=0, stops=("\n",))
        assert len(requests) == 7 and len(read_rows(out)) == 5


def test_prompt_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "prompt": "x"}\n{"text": "no prompt"}\n')
    with pytest.raises(PromptFileError, match="bad.jsonl:2"):
        read_prompts(bad)
    with pytest.raises(PromptFileError, match="does not exist"):
        read_prompts(tmp_path / "missing.jsonl")
