"""Tiny random models for fast invariant tests (no downloads): Gemma 3 with a short sliding window, and Llama."""
from __future__ import annotations

import torch
from transformers import Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM


def tiny_gemma3(vocab_size: int = 96, window: int = 6, seed: int = 0, layers: int = 4) -> Gemma3ForCausalLM:
    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        sliding_window=window,
        layer_types=["sliding_attention"] * (layers - 1) + ["full_attention"],
        initializer_range=0.02,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        attn_implementation="sdpa",
    )
    return Gemma3ForCausalLM(config).eval()


def tiny_llama(vocab_size: int = 96, seed: int = 0, layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        initializer_range=0.3,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config).eval()


def byte_tokenizer():
    """A byte-level tokenizer (259 ids: pad, bos, eos, 256 bytes) that encodes any text, for tiny checkpoints."""
    from tokenizers import Tokenizer, decoders, models
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2}
    vocab.update({ch: i + 3 for i, ch in enumerate(sorted(ByteLevel.alphabet()))})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>")


def save_tiny_checkpoint(folder, kind: str = "llama", seed: int = 0) -> str:
    """A tiny random model + byte tokenizer saved like any HF checkpoint; returns the folder path."""
    tokenizer = byte_tokenizer()
    model = tiny_llama(vocab_size=len(tokenizer), seed=seed) if kind == "llama" else tiny_gemma3(vocab_size=len(tokenizer), seed=seed)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return str(folder)


def save_copying_checkpoint(folder) -> str:
    """A tiny checkpoint whose greedy next token is its current one, so its answers are runs of one token that any
    trained drafter learns at once: no layer adds to the residual stream (attention and MLP outputs zeroed) and the
    LM head is the embedding, whose best match for e_x is x itself."""
    from transformers import AutoModelForCausalLM

    save_tiny_checkpoint(folder)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.copy_(model.model.embed_tokens.weight)
    model.save_pretrained(str(folder))
    return str(folder)
