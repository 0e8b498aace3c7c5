"""Bad input gets a clear error: unknown method or option, unknown model, missing folder, tokenizer mismatch."""
from __future__ import annotations

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from model.common.accept import AcceptConfig
from model.common.zoo import ModelNotFound, TokenizerMismatch, check_same_tokenizer, resolve
from model.registry import build_drafter, method_config


def word_tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(["<unk>"] + words)}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="<unk>")))


def test_unknown_method_lists_known_ones():
    with pytest.raises(ValueError, match="unknown method 'medusa2'.*known methods: ar, ctc, eagle, eagle2, eagle3, hydra, lookahead, medusa, pld, sd"):
        method_config("medusa2")


def test_unknown_method_option():
    with pytest.raises(ValueError, match="has no option.*gama"):
        method_config("sd", {"gama": 3})


def test_sd_without_drafter_says_what_to_pass():
    with pytest.raises(ValueError, match="--drafter"):
        build_drafter("sd", None, {}, accept=AcceptConfig())


def test_unknown_model_name():
    with pytest.raises(ModelNotFound, match="unknown model 'gemma-9b'.*gemma-3-270m"):
        resolve("gemma-9b")


def test_missing_model_folder(tmp_path):
    with pytest.raises(ModelNotFound, match="not an existing folder"):
        resolve(str(tmp_path / "no-such-drafter"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="no config.json"):
        resolve(str(tmp_path / "empty"))


def test_tokenizer_mismatch():
    target = word_tokenizer(["a", "b", "c"])
    check_same_tokenizer(target, word_tokenizer(["a", "b", "c"]))
    with pytest.raises(TokenizerMismatch, match="has 3 tokens, target has 4"):
        check_same_tokenizer(target, word_tokenizer(["a", "b"]))
    with pytest.raises(TokenizerMismatch, match="different ids"):
        check_same_tokenizer(target, word_tokenizer(["a", "c", "b"]))


def test_bad_generation_settings():
    with pytest.raises(ValueError, match="temperature"):
        AcceptConfig(temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        AcceptConfig(top_p=0)
    with pytest.raises(ValueError, match="gamma"):
        method_config("sd", {"gamma": 0})
    with pytest.raises(ValueError, match="drop --tree"):
        method_config("hydra", {"dynamic": True, "tree": "tree.json"})


@pytest.mark.parametrize("method", ["eagle", "eagle2", "eagle3", "medusa", "hydra", "ctc"])
def test_head_methods_need_a_trained_head(method, tmp_path):
    from tiny import tiny_llama

    from model.common.target import Target

    target = Target(tiny_llama())
    with pytest.raises(ValueError, match="--head"):
        build_drafter(method, target, {}, accept=AcceptConfig())
    with pytest.raises(FileNotFoundError, match="not a trained"):
        build_drafter(method, target, {"head": str(tmp_path)}, accept=AcceptConfig())
