"""Hidden-state dumps: batched features equal single-sequence forwards, loss masks cover exactly the
answers, pre-/post-norm layer semantics, atomic resume, and refusal to mix settings."""
from __future__ import annotations

import json

import pytest
import torch
from tiny import save_tiny_checkpoint

from data_generation import hidden_states
from data_generation.feature_shards import FeatureShards, shard_name
from model.common.zoo import load_model

ANSWERS = ["Hello", "", "A much longer answer that runs past the length limit " * 3, "Yes.", "x", "Good morning, world",
           "ok", "The column number"]


def close(dumped: torch.Tensor, reference: torch.Tensor) -> bool:
    """Equal up to float32 reordering: batched and single forwards use different matmul shapes, so raw
    residual-stream features (|x| ~ 80 in the tiny model, float32 ulp ~ 8e-6) differ by a few ulp;
    a padding leak would differ by O(1). Tolerance 1e-5 of the tensor's scale (atol 1e-5 when |x| <= 1)."""
    return torch.allclose(dumped, reference, rtol=0, atol=1e-5 * max(1.0, reference.abs().max().item()))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("hs")
    folder = save_tiny_checkpoint(root / "tiny")
    data = root / "d.jsonl"
    with open(data, "w") as f:
        for i, answer in enumerate(ANSWERS):
            prompt = f"Translate German to English: Satz {'lang ' * i}{i}\nEnglish:"
            f.write(json.dumps({"id": f"p{i}@t0", "source_id": f"p{i}", "temperature": 0.0,
                                "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]}) + "\n")
    model, tokenizer = load_model(folder, dtype="float32", device="cpu")
    return root, folder, data, model, tokenizer


def run(setup, out, *extra):
    root, folder, data, _, _ = setup
    return hidden_states.main(["--data", str(data), "--out", str(out), "--target", folder, "--dtype", "float32",
                               "--device", "cpu", "--save-dtype", "float32", "--batch-size", "3", "--shard-size", "3",
                               "--max-length", "80", *extra])


@pytest.fixture(scope="module")
def dumped(setup):
    out = setup[0] / "all_layers"
    run(setup, out, "--layers", "0", "1", "2", "prenorm")
    return out


def test_features_equal_single_sequence_forward(setup, dumped):
    _, _, _, model, _ = setup
    ds = FeatureShards(dumped)
    assert len(ds) == len(ANSWERS) and len(ds.shards) == 3
    lengths = {len(ds[i]["input_ids"]) for i in range(len(ds))}
    assert len(lengths) > 2, "batches must mix lengths so that padding is exercised"
    for i in range(len(ds)):
        item = ds[i]
        ids = item["input_ids"][None]
        with torch.no_grad():
            out = model(input_ids=ids, output_hidden_states=True)
        for layer in (0, 1, 2):
            assert close(item[f"hidden_{layer}"], out.hidden_states[layer][0]), (i, layer)
        answer = item["loss_mask"].bool()  # the LM head runs on answer positions only
        assert torch.equal(item["target_argmax"][answer], out.logits[0].argmax(-1)[answer])
        assert (item["target_argmax"][~answer] == -1).all()


def test_prenorm_and_postnorm_semantics(setup, dumped):
    root, folder, _, model, _ = setup
    # an independent reference: transformers' own untied last hidden state is the pre-norm one
    untied, _ = load_model(folder, dtype="float32", device="cpu")
    untied.config.tie_last_hidden_states = False
    ds = FeatureShards(dumped)
    L = model.config.num_hidden_layers
    assert ds.index["num_hidden_layers"] == L == 2
    assert "after the final norm" in ds.index["layer_meaning"][str(L)]
    assert "before the final norm" in ds.index["layer_meaning"]["prenorm"]
    for i in range(len(ds)):
        item = ds[i]
        with torch.no_grad():
            pre = untied(input_ids=item["input_ids"][None], output_hidden_states=True).hidden_states[-1][0]
            normed = model.model.norm(item["hidden_prenorm"])
        assert close(item["hidden_prenorm"], pre)
        assert close(normed, item[f"hidden_{L}"])
        assert not torch.allclose(item["hidden_prenorm"], item[f"hidden_{L}"], atol=1e-2)


def test_loss_mask_covers_exactly_the_answer(setup, dumped):
    _, _, data, _, tokenizer = setup
    ds = FeatureShards(dumped)
    rows = [json.loads(line) for line in open(data)]
    for i, row in enumerate(rows):
        prompt, answer = (t["value"] for t in row["conversations"])
        p = tokenizer(prompt).input_ids
        a = tokenizer(answer, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
        item = ds[i]
        assert item["id"] == row["id"]
        assert item["input_ids"].tolist() == (p + a)[:80]
        assert item["loss_mask"].tolist() == ([0] * len(p) + [1] * len(a))[:80]
        if len(p + a) <= 80:
            assert item["input_ids"][-1] == tokenizer.eos_token_id and item["loss_mask"].sum() == len(a)
    assert len(ds[2]["input_ids"]) == 80  # the long answer was cut at --max-length


def test_answer_prefix_is_part_of_the_answer(setup):
    _, _, _, _, tokenizer = setup
    prompt = "English:"
    ids, mask = hidden_states.tokenize_row(tokenizer, prompt, "Hi", 80, answer_prefix=" ")
    p = tokenizer(prompt).input_ids
    assert ids == p + tokenizer(" Hi", add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    assert mask == [0] * len(p) + [1] * (len(ids) - len(p))


def test_resume_rewrites_only_the_missing_shard(setup):
    out = setup[0] / "resume"
    run(setup, out)
    before = [{k: v.clone() if torch.is_tensor(v) else v for k, v in item.items()} for item in FeatureShards(out)]
    assert list(before[0]) == ["id", "input_ids", "loss_mask", "target_argmax", "hidden_prenorm"]
    mtimes = {s: (out / shard_name(s)).stat().st_mtime_ns for s in range(2)}
    (out / shard_name(2)).unlink()
    with pytest.raises(FileNotFoundError):
        FeatureShards(out)[len(before) - 1]
    index = run(setup, out)
    assert index["complete"] and all(shard["done"] for shard in index["shards"])
    assert {s: (out / shard_name(s)).stat().st_mtime_ns for s in range(2)} == mtimes
    after = list(FeatureShards(out))
    assert len(after) == len(before)
    for a, b in zip(after, before):
        assert a.keys() == b.keys() and a["id"] == b["id"]
        assert all(torch.equal(a[k], b[k]) for k in a if k != "id")
    assert not list(out.glob(".*tmp")), "no temp files may remain"


def test_mismatched_settings_are_refused(setup):
    out = setup[0] / "mismatch"
    run(setup, out, "--limit", "4")
    with pytest.raises(hidden_states.DumpSettingsMismatch, match="max_length: 80 there, 40 now"):
        run(setup, out, "--limit", "4", "--max-length", "40")
    with pytest.raises(hidden_states.DumpSettingsMismatch, match="layers"):
        run(setup, out, "--limit", "4", "--layers", "1")
    with pytest.raises(hidden_states.DumpSettingsMismatch, match="other conversations"):
        run(setup, out, "--limit", "5")  # shard 1 would gain a conversation
    run(setup, out, "--limit", "4")  # same settings: nothing to do, still fine


def test_bad_input_gives_clear_errors(setup, tmp_path):
    with pytest.raises(ValueError, match="out of range"):
        run(setup, tmp_path / "a", "--layers", "3")
    with pytest.raises(ValueError, match="neither an integer"):
        run(setup, tmp_path / "b", "--layers", "last")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "conversations": [{"from": "gpt", "value": "hi"}]}) + "\n")
    with pytest.raises(ValueError, match="data row 1"):
        hidden_states.main(["--data", str(bad), "--out", str(tmp_path / "c"), "--target", setup[1]])
    with pytest.raises(ValueError, match="do not fit"):
        hidden_states.cast_checked(torch.tensor([70000.0]), torch.float16, "hidden_prenorm")
    assert hidden_states.parse_layers(["-1", "prenorm", "2", "0"], 2) == [2, "prenorm", 0]


def test_ranks_split_the_shards_and_equal_one_process(setup, dumped):
    """Two ranks writing one folder (as torchrun would start them) produce the one-process dump: same shards,
    same tensors, and an index that lists every shard once both are done."""
    from safetensors.torch import load_file

    out = setup[0] / "two_ranks"
    first = run(setup, out, "--layers", "0", "1", "2", "prenorm", "--rank", "0", "--world-size", "2")
    assert [s["done"] for s in first["shards"]] == [True, False, True]  # rank 0 wrote shards 0 and 2
    second = run(setup, out, "--layers", "0", "1", "2", "prenorm", "--rank", "1", "--world-size", "2")
    assert second["complete"] and all(s["done"] for s in second["shards"])
    for shard in sorted(dumped.glob("shard_*.safetensors")):
        mine, theirs = load_file(str(out / shard.name)), load_file(str(shard))
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    with pytest.raises(ValueError, match="--rank"):
        run(setup, setup[0] / "bad", "--rank", "2", "--world-size", "2")


def test_head_training_loads_only_the_embedding_and_lm_head(setup):
    """load_frozen_parts: the target's embedding (with its scaling) and LM head equal the full model's, and every
    other weight stays on the meta device (never read from disk)."""
    from model.common.zoo import load_frozen_parts

    _, folder, _, model, _ = setup
    parts, tokenizer = load_frozen_parts(folder, dtype="float32")
    ids = torch.tensor([[1, 5, 70, 200]])
    assert torch.equal(parts.get_input_embeddings()(ids), model.get_input_embeddings()(ids))
    assert torch.equal(parts.get_output_embeddings().weight, model.get_output_embeddings().weight)
    real = {n for n, p in parts.named_parameters() if not p.is_meta}
    assert real and real <= {"model.embed_tokens.weight", "lm_head.weight"}
    assert tokenizer.eos_token_id == setup[4].eos_token_id


def test_a_second_writer_of_the_same_rank_is_refused(setup):
    """Two dumps of one rank into one folder would write the same shards: the second stops before loading."""
    import fcntl

    out = setup[0] / "locked"
    out.mkdir()
    with open(out / ".rank-0.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(hidden_states.InputError, match="being written by another run"):
            run(setup, out, "--limit", "3")
    assert not list(out.glob("shard_*"))
    assert run(setup, out, "--limit", "3")["complete"]  # free again


def test_teacher_forced_dump_runs_the_target_over_a_given_continuation(setup, tmp_path):
    """--continuation reference: prompt + ' ' + reference + EOS per pool row; features equal a single forward,
    the loss mask covers exactly the continuation and EOS, target_argmax is the target's choice there."""
    _, _, _, model, tokenizer = setup
    pool = tmp_path / "pool.jsonl"
    references = ["The column number", "Invalid list of publications", "Change the red brightness"]
    pool.write_text("".join(json.dumps({"id": f"de-train-{i}", "prompt": f"Translate German to English: Satz {i}\nEnglish:",
                                        "text": f"Satz {i}", "reference": r}) + "\n" for i, r in enumerate(references)))
    out = tmp_path / "tf"
    index = run(setup, out, "--data", str(pool), "--continuation", "reference", "--answer-prefix", " ")
    assert index["settings"]["continuation"] == "reference" and index["complete"]
    ds = FeatureShards(out)
    for i, reference in enumerate(references):
        item = ds[i]
        prompt = tokenizer(f"Translate German to English: Satz {i}\nEnglish:").input_ids
        continuation = tokenizer(" " + reference, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
        assert item["id"] == f"de-train-{i}" and item["input_ids"].tolist() == prompt + continuation
        assert item["loss_mask"].tolist() == [0] * len(prompt) + [1] * len(continuation)
        with torch.no_grad():
            logits = model(input_ids=item["input_ids"][None]).logits[0]
        answer = item["loss_mask"].bool()
        assert torch.equal(item["target_argmax"][answer], logits.argmax(-1)[answer])
    with pytest.raises(hidden_states.InputError, match="no 'translation' text"):
        run(setup, tmp_path / "bad", "--data", str(pool), "--continuation", "translation")
    with pytest.raises(hidden_states.DumpSettingsMismatch, match="continuation"):  # not mixed with self-distilled rows
        run(setup, out)
    with pytest.raises(hidden_states.InputError, match="pass --continuation FIELD"):
        run(setup, tmp_path / "bad", "--data", str(pool))


def test_ceiling_counts_the_targets_products_and_the_dumps_lengths(setup, dumped):
    """data_generation.ceiling: FLOPs are those of the model's own linear layers, lengths those of the dump."""
    from data_generation import ceiling

    _, folder, _, model, _ = setup
    result = ceiling.main(["--dump", str(dumped), "--target", folder, "--dtype", "float32", "--device", "cpu",
                           "--rows", "16", "--batch-size", "4"])
    linears = [m for m in model.get_decoder().modules() if isinstance(m, torch.nn.Linear)]
    assert result["decoder_flop_per_token"] == 2 * sum(m.weight.numel() for m in linears)
    assert result["lm_head_flop_per_token"] == 2 * model.get_output_embeddings().weight.numel()
    ds = FeatureShards(dumped)
    masks = [ds.tokens(i)["loss_mask"] for i in range(len(ds))]
    assert result["answer_tokens"] == pytest.approx(sum(int(m.sum()) for m in masks) / len(ds))
    assert result["prompt_tokens"] == pytest.approx(sum(len(m) - int(m.sum()) for m in masks) / len(ds))
    assert result["dump_tokens_per_s"] > 0 and result["distill_answer_tokens_per_s"] > 0
