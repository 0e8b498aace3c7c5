"""Draft-head training (EAGLE, EAGLE-3, Medusa, Hydra, CTC) on a tiny target: dump features once, train each head on
the shared loop (the loss falls), and the trained heads draft losslessly through the evaluation runner."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from lossless import accepted_in_file
from launch import train_two_processes
from tiny import save_copying_checkpoint
from transformers import DynamicCache

from data_generation import hidden_states
from data_generation.feature_shards import FeatureShards
from evaluation import calibrate_tree, equal, run
from model.common.static_tree import load_tree
from model.ctc import net as ctc_net
from model.eagle.net import load_net
from model.common.zoo import load_model
from train.config import TrainConfig
from train.loop import train
from train.tasks import build_task
from train.tasks.features import IGNORE
from train.tasks.medusa import teacher_probs

# The tiny target copies its last token (below), so its own answers are runs of one token, and so are these: heads
# trained on them learn what the target does, and their drafts must then be accepted (a random target's answers
# would be noise no head learns in 30 steps). Runs of 62 letters and digits give the 48-token draft vocabulary.
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ANSWERS = [" " + " ".join(c * 4 for c in LETTERS[i::8]) + " ::::::::" for i in range(8)]


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    d = tmp_path_factory.mktemp("eagle")
    target = save_copying_checkpoint(d / "target")
    data = d / "distilled.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "conversations": [
        {"from": "human", "value": f"Translate German to English: Satz {i}\nEnglish:"},
        {"from": "gpt", "value": " " + answer}]}) + "\n" for i, answer in enumerate(ANSWERS)))
    hidden_states.main(["--data", str(data), "--out", str(d / "features"), "--target", target, "--dtype", "float32",
                        "--device", "cpu", "--layers", "2", "0", "1", "--save-dtype", "float32"])
    return d, target


HEADS = {  # head -> (its training task, the task's own arguments, the methods that draft with it)
    "eagle": ("eagle", {"heads": 2, "kv_heads": 2, "intermediate_size": 64, "token_weight": 1.0}, ("eagle", "eagle2")),
    "eagle-ttt": ("eagle", {"heads": 2, "kv_heads": 2, "intermediate_size": 64, "token_weight": 1.0, "unroll": 3},
                  ("eagle", "eagle2")),
    "eagle3": ("eagle3", {"heads": 2, "kv_heads": 2, "intermediate_size": 64, "feature_layers": [0, 1, 2], "unroll": 2},
               ("eagle", "eagle2")),
    "medusa": ("medusa", {"num_heads": 3}, ("medusa",)),
    "hydra": ("hydra", {"num_heads": 3}, ("hydra",)),
    "hydra-teacher": ("hydra", {"num_heads": 3, "layers": 2, "teacher": 0.5}, ("hydra",)),
    "hydra-context": ("hydra", {"num_heads": 3, "context_layers": 1, "context_heads": 2, "context_kv_heads": 2,
                                "context_intermediate_size": 64, "context_next_token": True}, ("hydra",)),
    "ctc": ("ctc", {"heads": 2, "kv_heads": 2, "intermediate_size": 64, "token_weight": 1.0, "slots": 4, "ctc_tokens": 2,
                    "ctc_weight": 1.0}, ("ctc",)),
}
TASKS = sorted({task for task, _, _ in HEADS.values()})
STATIC_TREES = ("eagle", "medusa", "hydra")  # the methods calibrate_tree picks a tree for


def config(d: Path, target: str, head: str, steps: int, features: str = "features") -> TrainConfig:
    task, args, _ = HEADS[head]
    return TrainConfig(task=task, output_dir=str(d / head), steps=steps, batch_size=4, lr=3e-3, warmup_steps=1,
                       save_every=10, log_every=5,
                       task_args={"data": str(d / features), "target": target, "draft_vocab_size": 48, **args})


@pytest.mark.parametrize("name", list(HEADS))
def test_head_trains_and_drafts_losslessly(dump, name):
    d, target = dump
    cfg = config(d, target, name, steps=30)
    task = cfg.task
    task_obj = build_task(cfg.task, cfg.task_args)
    if task == "ctc":  # the CTC term alone must fall too, on a fixed batch
        torch.manual_seed(0)
        fixed = task_obj.collate([task_obj.dataset()[i] for i in range(4)])
        fresh = task_obj.model()
        with torch.no_grad():
            before = float(task_obj.ctc_loss(fresh, task_obj._predict(fresh, fixed)[0], fixed))
    log = train(cfg, task_obj)
    first, last = sum(r["loss"] for r in log[:5]) / 5, sum(r["loss"] for r in log[-5:]) / 5
    assert last < 0.7 * first, f"loss {first:.3f} -> {last:.3f}"
    head = d / name / "final"
    model, _ = load_model(target, dtype="float32", device="cpu")
    if task == "eagle":
        assert load_net(head, model).vocab.size == 49
    if task == "ctc":
        trained = ctc_net.load_net(head, model).train()
        torch.manual_seed(0)
        with torch.no_grad():
            after = float(task_obj.ctc_loss(trained, task_obj._predict(trained, fixed)[0], fixed))
        assert after < 0.7 * before, f"CTC loss {before:.3f} -> {after:.3f}"

    questions = d / "q.jsonl"
    questions.write_text("".join(json.dumps({"question_id": i, "category": "translation-de",
                                             "turns": [f"Translate German to English: Satz {i}\nEnglish:"]}) + "\n"
                                 for i in range(4)))
    common = ["--target", target, "--questions", str(questions), "--dtype", "float32", "--max-new-tokens", "16", "--warmup", "0"]
    if not (d / "ar.jsonl").exists():
        run.main(["--method", "ar", "--out", str(d / "ar.jsonl"), *common])
    for method in HEADS[name][2]:
        tree = ["--tree", str(d / f"{name}-tree.json")] if method in STATIC_TREES else []
        if tree:  # a static tree picked from the heads' measured accuracy on conversations 4..
            calibrate_tree.main(["--task", task, "--head", str(head), "--features", str(d / "features"), "--skip", "4",
                                 "--target", target, "--total", "6", "--top-k", "3", "--out", tree[1]])
            assert len(load_tree(tree[1])) == 6
        run.main(["--method", method, "--head", str(head), *tree, "--out", str(d / f"{name}-{method}.jsonl"), *common])
        equal.main(["--baseline", str(d / "ar.jsonl"), "--answers", str(d / f"{name}-{method}.jsonl"), "--tie-tolerance", "0"])
        assert accepted_in_file(d / f"{name}-{method}.jsonl") > 0, f"the trained {name} head never had a draft accepted"


def test_a_head_trained_on_teacher_forced_features_drafts_losslessly(dump):
    """Features over text the target did not write (a pool's references, here single letters the copying target
    would never write) labelled with the target's own next token: the head learns the target, not the text."""
    d, target = dump
    pool = d / "pool.jsonl"
    pool.write_text("".join(json.dumps({"id": f"de-train-{i}", "prompt": f"Translate German to English: Satz {i}\nEnglish:",
                                        "text": f"Satz {i}", "reference": " ".join(LETTERS[i::5]) + " ::::::::"}) + "\n"
                            for i in range(8)))
    hidden_states.main(["--data", str(pool), "--out", str(d / "teacher-forced"), "--target", target, "--dtype", "float32",
                        "--device", "cpu", "--layers", "2", "--save-dtype", "float32", "--continuation", "reference",
                        "--answer-prefix", " "])
    item = FeatureShards(d / "teacher-forced")[0]
    answer = item["loss_mask"].bool()
    assert torch.equal(item["target_argmax"][answer], item["input_ids"][answer])  # the copying target's own choice
    cfg = config(d, target, "eagle", steps=30, features="teacher-forced")
    cfg = TrainConfig(**{**asdict(cfg), "output_dir": str(d / "eagle-teacher-forced")})
    train(cfg, build_task(cfg.task, cfg.task_args))
    questions = d / "q-tf.jsonl"
    questions.write_text("".join(json.dumps({"question_id": i, "category": "translation-de",
                                             "turns": [f"Translate German to English: Satz {i}\nEnglish:"]}) + "\n"
                                 for i in range(4)))
    common = ["--target", target, "--questions", str(questions), "--dtype", "float32", "--max-new-tokens", "16", "--warmup", "0"]
    run.main(["--method", "ar", "--out", str(d / "tf-ar.jsonl"), *common])
    run.main(["--method", "eagle2", "--head", str(d / "eagle-teacher-forced" / "final"), "--out", str(d / "tf-eagle2.jsonl"),
              *common])
    equal.main(["--baseline", str(d / "tf-ar.jsonl"), "--answers", str(d / "tf-eagle2.jsonl"), "--tie-tolerance", "0"])
    assert accepted_in_file(d / "tf-eagle2.jsonl") > 0


def test_missing_feature_layer_is_a_clear_error(dump, tmp_path):
    d, target = dump
    other = tmp_path / "features"
    hidden_states.main(["--data", str(d / "distilled.jsonl"), "--out", str(other), "--target", target, "--dtype", "float32",
                        "--device", "cpu", "--layers", "1", "--save-dtype", "float32"])
    for task in TASKS:
        layers = {"feature_layers": [0, 1, 2]} if task == "eagle3" else {}
        with pytest.raises(ValueError, match=f"--layers {'0 1 2' if layers else '2'}"):
            build_task(task, {"data": str(other), "target": target, **layers})
    with pytest.raises(ValueError, match="at least 7 layers"):  # EAGLE-3's default taps need a deeper target
        build_task("eagle3", {"data": str(d / "features"), "target": target})


def test_several_dumps_are_read_in_turn(dump):
    """A multilingual head trains on one dump per language: `limit` and `skip` apply to each dump."""
    d, target = dump
    dumps = [str(d / "features"), str(d / "features")]
    task = build_task("medusa", {"data": dumps, "target": target, "limit": 3, "skip": 1, "num_heads": 2})
    rows, single = task.dataset(), FeatureShards(str(d / "features"))
    assert len(rows) == 6
    assert [rows[i]["input_ids"].tolist() for i in range(6)] == [single[i]["input_ids"].tolist() for i in (1, 2, 3) * 2]
    held_apart = build_task("medusa", {"data": dumps, "target": target, "limit": -2, "num_heads": 2}).dataset()
    kept = len(single) - 2  # a negative limit leaves each dump's last conversations apart
    assert [held_apart[i]["input_ids"].tolist() for i in range(2 * kept)] == \
        [single[i]["input_ids"].tolist() for i in list(range(kept)) * 2]


def small_eagle_task(d: Path, target: str, unroll: int, head: str = "eagle"):
    """The unrolled EAGLE (or EAGLE-3) task on the dump, full vocabulary, a small net (as HEADS' entry)."""
    task, args, _ = HEADS[head]
    return build_task(task, {"data": str(d / "features"), "target": target, "draft_vocab_size": 0, **args,
                             "unroll": unroll})


@pytest.mark.parametrize("head", ["eagle", "eagle3"])
def test_unrolled_eagle_levels_are_what_drafting_a_chain_computes(dump, head):
    """EAGLE's training-time test scores level j at anchor i as the drafter would compute it: the real
    context up to i in the net's cache, then j nodes each reading the previous node's predicted feature
    (for EAGLE-3: level 0 reads the fused real layers, deeper levels the net's own output)."""
    d, target = dump
    task = small_eagle_task(d, target, unroll=3, head=head)
    torch.manual_seed(0)
    net = task.model().eval()
    batch = task.collate([task.dataset()[i] for i in (0, 1, 3)])  # different lengths: right padding included
    with torch.no_grad():
        levels = [pred for pred, _, _ in task._unrolled(net, batch)]
        for b, n in enumerate(batch["attention_mask"].sum(dim=1).tolist()):
            feats, ids = batch["features"][b], batch["input_ids"][b]
            for anchor in range(0, n - 1, 3):
                cache = DynamicCache()
                out = net(feats[None, : anchor + 1], net.embed_tokens(ids[1 : anchor + 2])[None], cache=cache)[0, -1]
                for j in range(min(3, n - 1 - anchor)):
                    if j:  # one drafted node: the previous level's feature and the next real token
                        out = net(out[None, None], net.embed_tokens(ids[anchor + j + 1])[None, None],
                                  torch.tensor([[anchor + j]]), None, cache)[0, -1]
                    torch.testing.assert_close(levels[j][b, anchor], out, atol=1e-4, rtol=1e-4)


def test_training_time_test_options_are_checked(dump):
    d, target = dump
    with pytest.raises(ValueError, match="unroll must be >= 1"):
        build_task("eagle", {"data": str(d / "features"), "target": target, "unroll": 0})
    with pytest.raises(ValueError, match="CTC drafter drafts its slots in one pass"):
        build_task("ctc", {"data": str(d / "features"), "target": target, "unroll": 2})
    eagle3 = {"data": str(d / "features"), "target": target, "feature_layers": [0, 1, 2]}
    with pytest.raises(ValueError, match="cross-entropy alone"):
        build_task("eagle3", {**eagle3, "feature_weight": 1.0})
    assert build_task("eagle3", {**eagle3, "feature_weight": 0}).weights == (0.0, 1.0)  # an explicit 0 is fine


@pytest.mark.slow
def test_training_time_test_under_accelerate_launch(dump):
    """Several passes of the net per step (one per unrolled level) under DDP with two processes."""
    d, target = dump
    cfg = asdict(config(d, target, "eagle-ttt", steps=2))
    cfg.update(output_dir=str(d / "eagle-ttt-ddp"), log_every=1)
    (d / "ddp.json").write_text(json.dumps(cfg))
    assert train_two_processes(d / "ddp.json") == [1, 2]


def test_a_batch_with_nothing_to_score_still_backpropagates(dump):
    """Zero loss on the graph, not a division by zero: under DDP every rank must run its backward."""
    d, target = dump
    task = small_eagle_task(d, target, unroll=2)
    net = task.model().train()
    batch = task.collate([task.dataset()[i] for i in range(2)])
    batch["labels"][:] = IGNORE
    loss = task.loss(net, batch)
    loss.backward()
    assert loss.item() == 0 and net.fc.weight.grad is not None


@pytest.mark.parametrize("task", ["medusa", "hydra"])
def test_teacher_targets_are_the_targets_distribution_after_each_heads_position(dump, task):
    """Head k's soft target at position i is the target's distribution after position i+k, row for row with
    its hard labels: its argmax is the greedy label wherever that is in the draft vocabulary (a shift off
    by one fails), and it sums to one over the draft vocabulary."""
    d, target = dump
    task_obj = build_task(task, {"data": str(d / "features"), "target": target, "draft_vocab_size": 48,
                                 "num_heads": 3, "teacher": 1.0})
    net = task_obj.model()
    batch = task_obj.collate([task_obj.dataset()[i] for i in (0, 1, 3)])  # different lengths: right padding included
    with torch.no_grad():
        pairs = task_obj.per_head(net, batch)
        soft = teacher_probs(net, batch["features"], batch["labels"], batch["attention_mask"].bool(), len(pairs))
    for (logits, labels), probs in zip(pairs, soft):
        assert len(labels) and probs.shape == logits.shape
        assert torch.equal(probs.argmax(dim=-1), labels)
        torch.testing.assert_close(probs.sum(dim=-1), torch.ones(len(labels)))
    with pytest.raises(ValueError, match="teacher weighs"):
        build_task(task, {"data": str(d / "features"), "target": target, "teacher": 1.5})


def test_held_apart_accuracy_counts_tokens_outside_the_draft_vocabulary_as_misses():
    """Two heads with other vocabularies are scored on the same positions: a token a head cannot name is a miss."""
    from types import SimpleNamespace

    from model.sd.vocab import DraftVocab

    vocab = DraftVocab.most_frequent([[3, 4]], 2, 10)  # draft ids 0, 1; unknown = 2
    logits = torch.tensor([[5.0, 1.0], [5.0, 1.0], [1.0, 5.0]])  # top token: 0, 0, 1
    labels = torch.tensor([0, vocab.unknown, 1])  # hit, outside the vocabulary, hit
    seen = {}

    def per_head(model, batch):
        seen["keep_outside"] = data.keep_outside
        return [(logits, labels)]

    data = SimpleNamespace(vocab=vocab, keep_outside=False)
    task = SimpleNamespace(data=data, dataset=lambda: [0], collate=lambda rows: {}, per_head=per_head)
    acc, counts = calibrate_tree.rank_accuracy(task, None, batch_size=1, top_k=2)
    assert seen["keep_outside"] and counts == [3]
    assert acc[0] == pytest.approx([2 / 3, 0.0])


@pytest.mark.parametrize("name", ["medusa", "eagle3"])
def test_a_shipped_head_named_by_its_embedded_name_is_read_from_its_folder(dump, tmp_path, monkeypatch, name):
    """calibrate_tree --head embedded:de/medusa scores the shipped heads in their own draft vocabulary (it once read
    no vocabulary for such a name, and indexed the heads' logits with full-vocabulary token ids), and an EAGLE-3
    head's feature layers come from its folder."""
    from model.common import zoo

    d, target = dump
    task, args, _ = HEADS[name]
    trained = replace(config(d, target, name, steps=2), output_dir=str(tmp_path / "run"))
    train(trained, build_task(trained.task, trained.task_args))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    shipped = tmp_path / zoo.DEFAULT_TARGET / "xx" / name
    shutil.copytree(tmp_path / "run" / "final", shipped)
    (shipped / "provenance.json").write_text("{}")
    evaluated = build_task(task, {"data": str(d / "features"), "target": target, "init_from": f"{zoo.SHIPPED}xx/{name}"})
    assert evaluated.data.vocab is not None and evaluated.data.vocab.size == 49
    assert evaluated.model() is not None


def test_chain_walk_by_hand():
    """Levels x anchors: from anchor 0 levels 1-2 are right (3 tokens), from anchor 3 none (1 token), from anchor 4
    level 1 is (2 tokens): 3 steps for 6 anchors, the first draft token accepted in 2 of them."""
    hits = [[True, False, False, False, True, False],
            [True, False, False, True, False, False],
            [False, True, True, True, False, False]]
    assert calibrate_tree.chain_walk(hits) == (3, 2)
    assert calibrate_tree.chain_walk([[False] * 4]) == (4, 0)  # nothing accepted: one token a step


def test_calibration_replays_greedy_chains_for_eagle_heads(dump, tmp_path):
    d, target = dump
    trained = replace(config(d, target, "eagle", steps=20), output_dir=str(tmp_path / "eagle"))
    train(trained, build_task(trained.task, trained.task_args))
    out = tmp_path / "accuracy.json"
    calibrate_tree.main(["--task", "eagle", "--head", str(tmp_path / "eagle" / "final"), "--features", str(d / "features"),
                         "--target", target, "--total", "4", "--top-k", "2", "--depth", "3", "--out", str(tmp_path / "t.json"),
                         "--accuracy-out", str(out)])
    written = json.loads(out.read_text())
    chains, top1 = written["replayed_chains"], written["rank_accuracy"][0][0]
    assert chains["depth"] == 3 and 1.0 <= chains["mat"] <= 4.0 and 0.0 <= chains["first_accepted"] <= 1.0
    assert chains["mat"] > 1.0 and top1 > 0  # the copying target's answers are learnable: some drafts are right
