"""Converting an embedded model is safe when several processes do it at once (a benchmark next to the test
suite, say): whoever finishes second keeps the first one's folder and leaves no temporary folder behind."""
from __future__ import annotations

from pathlib import Path

import pytest
from tiny import tiny_llama

from model.common import zoo


class SavingTokenizer:
    def save_pretrained(self, folder: str) -> None:
        Path(folder, "tokenizer.json").write_text("{}")


@pytest.fixture
def tiny_gguf_reader(monkeypatch):
    """Reading any GGUF gives a tiny model and a tokenizer that saves one file: conversion without a real GGUF."""
    monkeypatch.setattr(zoo.AutoModelForCausalLM, "from_pretrained", lambda *args, **kwargs: tiny_llama())
    monkeypatch.setattr(zoo.AutoTokenizer, "from_pretrained", lambda *args, **kwargs: SavingTokenizer())


def test_second_conversion_keeps_the_finished_folder(tmp_path, tiny_gguf_reader):
    models = tmp_path / "models"
    finished = models / "tiny"
    finished.mkdir(parents=True)
    (finished / "config.json").write_text('{"written_by": "the first process"}')
    zoo._convert_gguf(tmp_path / "tiny.gguf", finished)
    assert (finished / "config.json").read_text() == '{"written_by": "the first process"}'
    assert list(models.iterdir()) == [finished]


def test_conversion_writes_model_config_and_tokenizer(tmp_path, tiny_gguf_reader):
    out = tmp_path / "models" / "tiny"
    out.parent.mkdir()
    zoo._convert_gguf(tmp_path / "tiny.gguf", out)
    assert {p.name for p in out.iterdir()} >= {"model.safetensors", "config.json", "tokenizer.json"}
    assert list(out.parent.iterdir()) == [out]
