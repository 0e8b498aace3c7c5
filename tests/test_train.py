"""The training loop: resume reproduces the next step's loss, two processes run under accelerate launch,
and a tiny end-to-end pipeline (distill -> pretrain -> fine-tune -> sd) stays lossless with a reduced vocabulary."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from lossless import accepted_in_file
from launch import launch_two_processes, logged_steps, train_two_processes
from tiny import save_copying_checkpoint, save_tiny_checkpoint

from data_generation import generate
from data_generation.local_backend import LocalBackend
from data_generation.prompts import read_prompts
from evaluation import equal, run
from evaluation.speed import evaluate
from evaluation.jsonl_store import JsonlStore, read_rows
from model.sd.vocab import DraftVocab
from model.common.zoo import load_model
from train.config import load_config
from train.loop import train
from train.tasks import build_task
from train.tasks.drafter_lm import answer_ids

SENTENCES = ["Die Datei wurde gespeichert.", "Das Netzwerk ist nicht erreichbar.", "Bitte warten Sie einen Moment.",
             "Der Drucker hat kein Papier mehr.", "Die Verbindung wurde getrennt.", "Es ist ein Fehler aufgetreten.",
             "Das Passwort ist falsch.", "Die Sitzung ist abgelaufen."]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    target = save_tiny_checkpoint(d / "target")
    pool = d / "pool.jsonl"
    pool.write_text("".join(json.dumps({"id": f"de-{i}", "prompt": f"Translate German to English: {s}\nEnglish:",
                                        "text": s, "reference": f"sentence {i}: {s}"}) + "\n"
                            for i, s in enumerate(SENTENCES)))
    return d, target, pool


def write_config(path: Path, target: str, data: Path, out: Path, **extra) -> Path:
    cfg = {"task": "drafter_lm", "output_dir": str(out), "steps": 4, "batch_size": 2, "lr": 3e-3,
           "warmup_steps": 1, "save_every": 2, "log_every": 1,
           "task_args": {"target": target, "data": str(data), "hidden_size": 32, "layers": 1, "heads": 2,
                         "intermediate_size": 64, "draft_vocab_size": 40, **extra}}
    path.write_text(json.dumps(cfg))
    return path


def sd_against_ar(d: Path, target: str, drafter: Path, name: str) -> None:
    """sd with `drafter` writes what plain decoding writes (d/ar-NAME.jsonl, d/NAME.jsonl) and has drafts accepted."""
    questions = d / f"q-{name}.jsonl"
    questions.write_text("".join(json.dumps({"question_id": i, "category": "translation-de",
                                             "turns": [f"Translate German to English: {s}\nEnglish:"]}) + "\n"
                                 for i, s in enumerate(SENTENCES[:4])))
    common = ["--target", target, "--questions", str(questions), "--dtype", "float32", "--max-new-tokens", "16",
              "--warmup", "0"]
    run.main(["--method", "ar", "--out", str(d / f"ar-{name}.jsonl"), *common])
    run.main(["--method", "sd", "--drafter", str(drafter), "--gamma", "3", "--out", str(d / f"{name}.jsonl"), *common])
    equal.main(["--baseline", str(d / f"ar-{name}.jsonl"), "--answers", str(d / f"{name}.jsonl"), "--tie-tolerance", "0"])
    assert accepted_in_file(d / f"{name}.jsonl") > 0, f"the drafter {drafter} never had a draft accepted"


def test_resume_gives_the_same_next_step_loss(workdir, monkeypatch):
    d, target, pool = workdir
    full = load_config(write_config(d / "a.json", target, pool, d / "a"))
    reference = [r["loss"] for r in train(full, build_task(full.task, full.task_args))]

    cfg = load_config(write_config(d / "b.json", target, pool, d / "b"))
    task = build_task(cfg.task, cfg.task_args)
    real_loss, calls = task.loss, []

    def crash_on_third_step(model, batch):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # stopped after the step-2 checkpoint
        return real_loss(model, batch)

    monkeypatch.setattr(task, "loss", crash_on_third_step)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, task)
    resumed = train(cfg, build_task(cfg.task, cfg.task_args), resume=True)
    assert [r["step"] for r in resumed] == [3, 4]
    assert resumed[0]["loss"] == pytest.approx(reference[2], rel=1e-5)
    assert reference[-1] < reference[0]
    longer = load_config(write_config(d / "b.json", target, pool, d / "b"), ["steps=8"])
    with pytest.raises(ValueError, match="another configuration"):
        train(longer, build_task(longer.task, longer.task_args), resume=True)


@pytest.mark.slow
def test_two_processes_under_accelerate_launch(workdir):
    """Under DDP each step is one batch per process and the logged loss is their mean: at lr 0 (the initial weights
    throughout) the two logged losses are means of batch losses over four disjoint pairs of the eight rows, i.e.
    every row is trained on exactly once per epoch, by one of the two processes."""
    import itertools

    import torch
    from accelerate.utils import set_seed

    d, target, pool = workdir
    config = write_config(d / "ddp.json", target, pool, d / "ddp")
    assert train_two_processes(config, "steps=2", "lr=0") == [1, 2]
    assert (d / "ddp" / "final" / "draft_vocab.json").exists()
    logged = [json.loads(line)["loss"] for line in (d / "ddp" / "log.jsonl").read_text().splitlines()]

    cfg = load_config(config)
    task = build_task(cfg.task, cfg.task_args)
    set_seed(cfg.seed)  # as train() does before building the net: the same initial weights
    model = task.model().eval()
    rows = task.dataset()
    with torch.no_grad():
        pair_loss = {pair: float(task.loss(model, task.collate([rows[i] for i in pair])))
                     for pair in itertools.combinations(range(len(rows)), 2)}
    matches = [(a, b, c, e) for a, b, c, e in itertools.permutations(pair_loss, 4)
               if len({*a, *b, *c, *e}) == 8
               and abs((pair_loss[a] + pair_loss[b]) / 2 - logged[0]) < 1e-5
               and abs((pair_loss[c] + pair_loss[e]) / 2 - logged[1]) < 1e-5]
    assert matches, f"the logged losses {logged} are not means over a partition of the rows into batches"


@pytest.mark.slow
def test_a_recipe_stage_trains_under_accelerate_launch(workdir):
    """`accelerate launch -m multispec experiment STUDY --only STAGE`: every process runs that training stage alone,
    as one DDP run (one log, steps counted once)."""
    d, target, pool = workdir
    config = write_config(d / "stage.json", target, pool, d / "unused")
    (d / "study").mkdir()
    (d / "study" / "recipe.json").write_text(json.dumps({"question": "pipeline", "stages": [
        {"name": "train", "tool": "train", "settings": {"config": str(config), "resume": True,
                                                        "overrides": {"output_dir": str(d / "staged"), "steps": 2}}},
        {"name": "never", "tool": "distill", "settings": {"prompts": "nowhere.jsonl", "out": "nothing.jsonl"}}]}))
    launch_two_processes("multispec", "experiment", str(d / "study"), "--only", "train", "--out-dir", str(d / "out"))
    assert logged_steps(d / "staged") == [1, 2] and (d / "staged" / "final").is_dir()
    assert not Path("nothing.jsonl").exists()


def test_pipeline_distill_pretrain_finetune_evaluate(workdir):
    d, _, pool = workdir
    target = save_copying_checkpoint(d / "copying-target")  # answers it distils are learnable: drafts get accepted
    model, tokenizer = load_model(target, dtype="float32", device="cpu")
    distilled = d / "distilled.jsonl"
    with JsonlStore(distilled) as store:
        generate.distill(LocalBackend(model, tokenizer, 12, ("\n",)), read_prompts(pool), [0.0, 1.0], store,
                         seed=0, stops=("\n",))
    # two files (as a generic drafter's union of languages), each capped by limit; answers rank first in the vocabulary
    pre = load_config(write_config(d / "pre.json", target, pool, d / "pre", limit=5, vocab_answers=str(distilled)),
                      [f'task_args.data=["{pool}", "{pool}"]'])
    task = build_task(pre.task, pre.task_args)
    assert len(task.examples) == 10
    answer_counts = Counter(t for row in read_rows(distilled) for t in answer_ids(tokenizer, row))
    specials = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}
    ranked = [t for t, _ in answer_counts.most_common() if t not in specials][: 40 - len(specials)]
    assert set(ranked) <= set(task.vocab.target_ids)
    train(pre, task)
    fine = load_config(write_config(d / "fine.json", target, distilled, d / "fine", stage="finetune",
                                    init_from=str(d / "pre" / "final")), ["steps=30"])  # enough to copy the target
    train(fine, build_task(fine.task, fine.task_args))

    sd_against_ar(d, target, d / "fine" / "final", "sd")


def test_word_level_distillation_from_a_teacher_forced_dump(workdir):
    """A drafter fine-tuned on a teacher-forced dump learns the target's own next token over given text (labels are
    the dump's target_argmax, shifted as the causal-LM loss reads them), mixes with self-distilled rows, and drafts
    losslessly with accepted drafts."""
    import torch

    from data_generation import hidden_states
    from data_generation.feature_shards import FeatureShards
    from train.tasks.features import IGNORE

    d, _, pool = workdir
    target = save_copying_checkpoint(d / "copying-target-word")
    dump = d / "teacher-forced"
    hidden_states.main(["--data", str(pool), "--out", str(dump), "--target", target, "--dtype", "float32", "--device",
                        "cpu", "--save-dtype", "float32", "--continuation", "reference", "--answer-prefix", " "])
    model, tokenizer = load_model(target, dtype="float32", device="cpu")
    distilled = d / "distilled-word.jsonl"
    with JsonlStore(distilled) as store:  # its answers put the tokens the target writes into the draft vocabulary
        generate.distill(LocalBackend(model, tokenizer, 12, ("\n",)), read_prompts(pool), [0.0], store, seed=0,
                         stops=("\n",))
    pre = load_config(write_config(d / "pre-word.json", target, pool, d / "pre-word", vocab_answers=str(distilled)))
    train(pre, build_task(pre.task, pre.task_args))
    fine = load_config(write_config(d / "word.json", target, dump, d / "word", stage="finetune",
                                    init_from=str(d / "pre-word" / "final")), ["steps=30"])
    task = build_task(fine.task, fine.task_args)
    item = FeatureShards(dump).tokens(0)
    ids, labels = task.examples[0]
    assert ids == item["input_ids"].tolist()
    loss = item["loss_mask"].bool()
    for t in range(len(ids) - 1):
        assert labels[t + 1] == (int(item["target_argmax"][t]) if loss[t] else IGNORE)
    assert sum(label != IGNORE for label in labels) == int(loss.sum()) - 1  # nothing follows the final EOS
    rows = task.dataset()
    assert all(torch.equal(inputs, task.vocab.to_draft[torch.tensor(ids)]) for (inputs, _), (ids, _) in zip(rows, task.examples))
    mixed = load_config(write_config(d / "mixed.json", target, dump, d / "mixed", stage="finetune",
                                     init_from=str(d / "pre-word" / "final")),
                        [f'task_args.data=["{dump}", {{"path": "{distilled}", "limit": 3}}]'])
    assert len(build_task(mixed.task, mixed.task_args).examples) == len(SENTENCES) + 3
    with pytest.raises(ValueError, match="was dumped from target"):  # another model's choices are not this target's
        build_task(fine.task, {**fine.task_args, "target": str(d / "target")})

    train(fine, task)
    sd_against_ar(d, target, d / "word" / "final", "sd-word")

    # the report counts what it learned from: the dump's loss positions, and a self-distilled file's answer tokens
    from evaluation import report, training_data

    dumped = sum(int(FeatureShards(dump).tokens(i)["loss_mask"].sum()) for i in range(len(SENTENCES)))
    trained = training_data.trained_runs(evaluate(d / "ar-sd-word.jsonl", [d / "sd-word.jsonl"]))
    assert [(run.name, run.answer_tokens) for run in trained] == [("sd-word", dumped)]
    answers = sum(len(tokenizer(row["conversations"][1]["value"], add_special_tokens=False).input_ids) + 1
                  for row in read_rows(distilled)[:3])  # answer tokens and EOS
    assert training_data.answer_tokens(mixed.task_args) == dumped + answers
    paths = report.write_report(d / "ar-sd-word.jsonl", [d / "sd-word.jsonl", d / "sd-word.jsonl"], d / "report-word")
    assert paths[-1].name == "training_data.png" and paths[-1].stat().st_size
    assert "| sd-word | sd | " in paths[0].read_text()


def test_draft_vocabulary_ranks_answer_tokens_first():
    vocab = DraftVocab.most_frequent([[5, 5, 5, 6, 7]], 4, 10, always=[1], first=[[8, 9, 9]])
    assert vocab.target_ids == [1, 9, 8, 5]
    assert DraftVocab.most_frequent([[5, 5, 6]], 2, 10).target_ids == [5, 6]


def test_data_sources_slice_each_source_on_its_own():
    from train.tasks.features import conversation_range, data_sources

    assert data_sources(["a", {"path": "b", "limit": 3}], None, 2) == [("a", None, 2), ("b", 3, 2)]
    assert data_sources({"path": "c", "skip": -5}, 10, 0) == [("c", 10, -5)]
    for bad in ({"file": "x"}, {"path": "x", "limit": "3"}, {"path": "x", "skip": True}):
        with pytest.raises(ValueError, match="a data source is a path or"):
            data_sources([bad], None, 0)
    assert conversation_range("f", 10, -2, 0) == range(0, 8)
    assert conversation_range("f", 10, None, -2) == range(8, 10)
    with pytest.raises(ValueError, match="none left"):
        conversation_range("f", 10, None, 10)
