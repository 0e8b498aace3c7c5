"""The OpenAI-compatible server: answers through the shared loop (speculative output equals plain
decoding), works with the openai client, and turns bad requests into OpenAI-style JSON errors."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from http_servers import uvicorn_running
from openai import OpenAI
from tiny import save_tiny_checkpoint

from llm_judge.engine import Engine
from llm_judge.serve import make_app


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = save_tiny_checkpoint(tmp_path_factory.mktemp("tiny"), kind="gemma3")
    config = Path(folder) / "config.json"  # a short context window, so the limit is cheap to reach
    config.write_text(json.dumps({**json.loads(config.read_text()), "max_position_embeddings": 512}))
    return folder


@pytest.fixture(scope="module")
def server(checkpoint):
    engine = Engine(checkpoint, method="pld", options={"max_ngram": 2}, dtype="float32", device="cpu")
    with uvicorn_running(make_app(engine, "tiny", max_tokens_limit=64)) as url:
        yield url


def test_speculative_server_answers_like_plain_decoding(server, checkpoint):
    client = OpenAI(base_url=server, api_key="x", max_retries=0)
    assert [m.id for m in client.models.list().data] == ["tiny"]
    plain = Engine(checkpoint, method="ar", dtype="float32", device="cpu")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "abab abab abab"}]
    chat = client.chat.completions.create(model="tiny", messages=messages, temperature=0, max_tokens=24)
    prompt = plain.chat_prompt(messages)
    expected = plain.complete(prompt.ids, 24, 0.0, 1.0, prompt.stops, 0)
    assert chat.choices[0].message.content == expected.text
    assert chat.usage.completion_tokens == expected.completion_tokens and chat.usage.prompt_tokens == expected.prompt_tokens
    assert chat.choices[0].finish_reason == expected.finish_reason

    text = client.completions.create(model="tiny", prompt=["xyz xyz xyz", "hello"], temperature=0, max_tokens=10,
                                     stop=["z"], seed=3)
    for choice, prompt in zip(text.choices, ["xyz xyz xyz", "hello"]):
        want = plain.complete(plain.text_ids(prompt), 10, 0.0, 1.0, ("z",), 3)
        assert choice.text == want.text and "z" not in choice.text and choice.finish_reason == want.finish_reason
    sampled = [client.completions.create(model="tiny", prompt="hello", temperature=1.0, max_tokens=8, seed=s).choices[0].text
               for s in (5, 5, 6)]
    assert sampled[0] == sampled[1]  # a seed makes sampling repeatable: the server's method, this seed, this text
    same_method = Engine(checkpoint, method="pld", options={"max_ngram": 2}, dtype="float32", device="cpu")
    assert sampled == [same_method.complete(same_method.text_ids("hello"), 8, 1.0, 1.0, (), s).text for s in (5, 5, 6)]
    assert sampled[2] != sampled[0]  # and another seed draws another answer


@pytest.mark.parametrize("body, status, param", [
    (b'{"model": "tiny", "messages": [', 400, None),  # malformed JSON
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, 404, "model"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000}, 400, "max_tokens"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, 400, "max_tokens"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stream": True}, 400, "stream"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "n": 2}, 400, "n"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": -1}, 400, "temperature"),
    ({"model": "tiny", "messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}, 400, "messages"),
    ({"model": "tiny"}, 400, None),  # no messages at all
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": [""]}, 400, "stop"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": ""}, 400, "stop"),
    ({"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "seed": 2**64}, 400, "seed"),
])
def test_chat_errors_are_openai_style(server, body, status, param):
    kwargs = {"content": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, bytes) else {"json": body}
    response = httpx.post(f"{server}/chat/completions", timeout=30, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"] and error["type"] and error["param"] == param


def test_completion_errors_and_context_limit(server):
    bad_prompt = httpx.post(f"{server}/completions", json={"model": "tiny", "prompt": [{"x": 1}]}, timeout=30)
    assert bad_prompt.status_code == 400 and "prompt" in bad_prompt.json()["error"]["message"]
    out_of_vocabulary = httpx.post(f"{server}/completions", json={"model": "tiny", "prompt": [5, 259]}, timeout=30)
    assert out_of_vocabulary.status_code == 400 and "outside the model's vocabulary of 259" in \
        out_of_vocabulary.json()["error"]["message"]
    too_long = httpx.post(f"{server}/completions", json={"model": "tiny", "prompt": "a" * 600, "max_tokens": 8}, timeout=30)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "context_length_exceeded"
    assert httpx.get(f"{server}/nothing-here", timeout=30).status_code == 404
