"""The drafters and heads shipped in weights/ (experiments/embedded_weights): each one loads by name next to the
embedded target, is refused next to a target it was not trained for, carries its provenance, and drafts losslessly
(with drafts accepted) against plain decoding on German translation prompts."""
from __future__ import annotations

import json

import pytest
import torch
from lossless import LosslessLedger
from tiny import tiny_gemma3

from model.ar.drafter import PlainDrafter
from model.common.accept import AcceptConfig
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from model.common.zoo import DEFAULT_TARGET, WEIGHTS_DIR, ModelNotFound, shipped_weights
from model.registry import METHODS, build_drafter

SHIPPED = {name: method for name, method in METHODS.items() if method.shipped}
GERMAN = ["Die Datei konnte nicht gespeichert werden.", "Bitte geben Sie Ihr Passwort erneut ein.",
          "Das Fenster wird geschlossen, wenn der Vorgang abgeschlossen ist."]
BUDGET_BYTES = 40_000_000  # the clone stays light: every shipped weight together


def options(name: str) -> dict[str, str]:
    kind = "drafter" if SHIPPED[name].weights == "drafter" else "head"
    return {kind: f"embedded:de/{SHIPPED[name].shipped}"}


def test_every_trained_method_ships_german_weights_with_provenance():
    total = 0
    for name, method in SHIPPED.items():
        folder = shipped_weights(f"embedded:de/{method.shipped}")
        provenance = json.loads((folder / "provenance.json").read_text())
        assert provenance["target"] == DEFAULT_TARGET and provenance["rebuild"] and provenance["steps"] > 0, name
        assert all(part["rows"] > 0 for part in provenance["data"]), name
        assert not (folder / "tokenizer.json").exists(), f"{name}: the 33 MB tokenizer comes from the target"
    for folder in {shipped_weights(f"embedded:de/{m.shipped}") for m in SHIPPED.values()}:
        total += sum(p.stat().st_size for p in folder.iterdir())
    assert total <= BUDGET_BYTES, f"shipped weights weigh {total / 1e6:.1f} MB, over the 40 MB budget"


def test_unknown_shipped_name_lists_what_ships():
    with pytest.raises(ModelNotFound, match="embedded:de/eagle"):
        shipped_weights("embedded:xx/eagle")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_weights_refused_next_to_another_target(name):
    target = Target(tiny_gemma3(vocab_size=96))  # hidden size 64, 96 ids: not the target they were trained for
    with pytest.raises(Exception, match=r"hidden size|vocabulary|tokenizer|token ids"):
        build_drafter(name, target, options(name), accept=AcceptConfig(), tokenizer=None)


@pytest.mark.slow
def test_shipped_weights_draft_losslessly_on_the_real_target(gemma_fp32):
    model, tokenizer = gemma_fp32
    target = Target(model)
    cfg = GenerationConfig(max_new_tokens=24, eos_token_ids=(tokenizer.eos_token_id,))
    prompts = [tokenizer(f"Translate German to English: {text}\nEnglish:").input_ids for text in GERMAN]
    references = [generate(ids, target, PlainDrafter(), cfg, tokenizer).tokens for ids in prompts]
    ledger = LosslessLedger()
    for name in sorted(SHIPPED):
        # one drafter answers every prompt, as the runner's session reuses it
        drafter = build_drafter(name, target, options(name), tokenizer=tokenizer, accept=AcceptConfig(),
                                generator=torch.Generator().manual_seed(0))
        for ids, expected in zip(prompts, references):
            ledger.check(name, generate(ids, target, drafter, cfg, tokenizer), expected)
    ledger.assert_drafts_accepted(sorted(SHIPPED))


def test_weights_folder_holds_only_shipped_targets():
    assert sorted(p.name for p in WEIGHTS_DIR.iterdir() if p.is_dir()) == [DEFAULT_TARGET]


def test_ship_packages_a_run_in_bf16_with_provenance(tmp_path):
    """train.ship: weights halved to bf16, tokenizer left out, tree and held-apart accuracy carried into provenance."""
    from safetensors.torch import load_file, save_file

    from train import ship

    run, rows = tmp_path / "runs" / "medusa", tmp_path / "rows.jsonl"
    (run / "final").mkdir(parents=True)
    (run / "checkpoint").mkdir()
    rows.write_text("".join(json.dumps({"id": str(i)}) + "\n" for i in range(5)))
    save_file({"w": torch.ones(4, 4), "ids": torch.arange(3)}, str(run / "final" / "medusa.safetensors"))
    (run / "final" / "medusa_config.json").write_text("{}")
    (run / "final" / "tokenizer.json").write_text("{}")
    (run / "tree.json").write_text("[[0]]")
    (run / "held_apart.json").write_text(json.dumps({"held_apart": {"features": "f", "skip": 3, "limit": None},
                                                     "positions": [10], "rank_accuracy": [[0.4567, 0.1]]}))
    settings = {"task": "medusa", "steps": 7, "batch_size": 2, "lr": 0.1, "task_args": {"data": str(rows), "limit": 3}}
    (run / "checkpoint" / "config.json").write_text(json.dumps(settings))
    ship.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])
    out = tmp_path / "out" / "medusa"
    weights = load_file(str(out / "medusa.safetensors"))
    assert weights["w"].dtype == torch.bfloat16 and weights["ids"].dtype == torch.int64
    assert sorted(p.name for p in out.iterdir()) == ["medusa.safetensors", "medusa_config.json", "provenance.json",
                                                     "tree.json"]
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["target"] == DEFAULT_TARGET and provenance["steps"] == 7
    assert provenance["data"] == [{"source": str(rows), "rows": 3, "of": 5}]
    assert provenance["held_apart"]["top1"] == [0.457] and provenance["held_apart"]["skip"] == 3
    assert not (tmp_path / "out" / "sd").exists()  # runs that are not there are skipped


def test_shipping_over_the_weights_a_run_continued_keeps_their_history(tmp_path):
    """A run that started from shipped weights and ships over them: its provenance holds theirs (read before the
    folder is replaced) and the command that rebuilds it."""
    from safetensors.torch import save_file

    from train import ship

    shipped = tmp_path / "out" / "hydra"
    shipped.mkdir(parents=True)
    (shipped / "provenance.json").write_text(json.dumps({"steps": 1500, "rebuild": "multispec experiment first"}))
    run, rows = tmp_path / "runs" / "hydra", tmp_path / "rows.jsonl"
    (run / "final").mkdir(parents=True)
    (run / "checkpoint").mkdir()
    rows.write_text(json.dumps({"id": "0"}) + "\n")
    save_file({"w": torch.ones(2)}, str(run / "final" / "hydra.safetensors"))
    settings = {"task": "hydra", "steps": 9, "batch_size": 2, "lr": 0.1,
                "task_args": {"data": str(rows), "init_from": str(shipped)}}
    (run / "checkpoint" / "config.json").write_text(json.dumps(settings))
    ship.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
               "--rebuild", "multispec experiment then"])
    provenance = json.loads((shipped / "provenance.json").read_text())
    assert provenance["steps"] == 9 and provenance["rebuild"] == "multispec experiment then"
    assert provenance["continued_from"] == {"steps": 1500, "rebuild": "multispec experiment first"}
    # shipping the same runs again (another head of the folder retrained) leaves this one as it is: not continuing itself
    ship.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--rebuild", "multispec experiment again"])
    assert json.loads((shipped / "provenance.json").read_text()) == provenance
