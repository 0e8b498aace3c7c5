"""`multispec experiment NAME`: recipes are data, every shipped recipe builds valid runs, a run answers every
comparison side by side per language, writes the tables and resumes instead of answering again."""
from __future__ import annotations

import json

import pytest
from tiny import save_tiny_checkpoint

from data_processing.errors import InputError
from evaluation.answers import load_answers
from multispec.experiment import EXPERIMENTS, build_runs, load_recipe, recipe_names, run_experiment


@pytest.mark.parametrize("name", recipe_names())
def test_every_shipped_recipe_builds_its_runs(name, tmp_path):
    recipe = load_recipe(name)
    for lang in recipe.languages or [""]:
        runs = build_runs(recipe, recipe.questions.format(lang=lang), tmp_path, {**recipe.settings, **recipe.quick})
        assert len(runs) == sum(len(named) for named in recipe.comparisons.values())
    assert (EXPERIMENTS / name / "README.md").is_file()  # the question, the command, the latest table


def write_recipe(root, target, **changes) -> None:
    recipe = {"question": "Does pld copy?", "questions": str(root / "q_{lang}.jsonl"), "languages": ["de", "fr"],
              "settings": {"target": target, "dtype": "float32", "max_new_tokens": 6, "warmup": 0},
              "quick": {"limit": 1},
              "comparisons": {"copying": {"ar": {"method": "ar"}, "pld": {"method": "pld", "options": {"max_ngram": 2}}},
                              "seeded": {"ar": {"method": "ar", "seed": 3}, "la": {"method": "lookahead", "seed": 3}}},
              **changes}
    (root / "toy").mkdir(exist_ok=True)
    (root / "toy" / "recipe.json").write_text(json.dumps(recipe))


def test_a_recipe_runs_side_by_side_per_language_and_resumes(tmp_path):
    target = save_tiny_checkpoint(tmp_path / "target")
    for lang in ("de", "fr"):
        (tmp_path / f"q_{lang}.jsonl").write_text("".join(json.dumps(
            {"question_id": f"{lang}-{i}", "category": f"translation-{lang}", "turns": [f"Translate: {lang} {i} {i}"],
             "reference": ["x"]}) + "\n" for i in range(2)))
    write_recipe(tmp_path, target)
    recipe = load_recipe("toy", root=tmp_path)
    report = run_experiment(recipe, out_dir=tmp_path / "out")
    text = report.read_text()
    for section in ("## de: copying", "## de: seeded", "## fr: copying", "## fr: seeded"):
        assert section in text
    files = {p.relative_to(tmp_path / "out").as_posix(): load_answers(p) for p in (tmp_path / "out").rglob("*.jsonl")}
    assert sorted(files) == sorted(f"{lang}/{c}/{r}.jsonl" for lang in ("de", "fr")
                                   for c, r in [("copying", "ar"), ("copying", "pld"), ("seeded", "ar"), ("seeded", "la")])
    assert all(len(rows) == 2 for rows in files.values())
    assert files["de/seeded/la.jsonl"][0]["config"]["seed"] == 3
    assert [r["choices"][0]["token_ids"] for r in files["de/copying/pld.jsonl"]] == \
        [r["choices"][0]["token_ids"] for r in files["de/copying/ar.jsonl"]]  # lossless, greedy
    run_experiment(recipe, out_dir=tmp_path / "out")  # a rerun finds everything answered
    again = {p.relative_to(tmp_path / "out").as_posix(): load_answers(p) for p in (tmp_path / "out").rglob("*.jsonl")}
    assert {k: [r["answer_id"] for r in v] for k, v in again.items()} == \
        {k: [r["answer_id"] for r in v] for k, v in files.items()}
    quick = run_experiment(recipe, quick=True, out_dir=tmp_path / "quick")
    assert "quick" in quick.read_text() and len(load_answers(tmp_path / "quick" / "fr" / "copying" / "pld.jsonl")) == 1


@pytest.mark.parametrize("changes, message", [
    ({"comparisons": {}}, "at least one set of runs"),
    ({"comparisons": {"a": {"ar": {"method": "ar"}}}}, "needs a baseline and at least one other run"),
    ({"comparisons": {"a": {"pld": {"method": "pld"}, "ar": {"method": "ar"}}}}, "must be method 'ar'"),
    ({"comparisons": {"a": {"ar": {"method": "ar"}, "x": {"options": {}}}}}, "run a/x needs a method"),
    ({"languages": []}, "names no languages"),
    ({"steps": 3}, "unknown: steps"),
])
def test_bad_recipes_are_named(tmp_path, changes, message):
    write_recipe(tmp_path, "unused", **changes)
    with pytest.raises(InputError, match=message):
        load_recipe("toy", root=tmp_path)
    with pytest.raises(InputError, match="no experiment 'nothing'"):
        load_recipe("nothing", root=tmp_path)


def test_bad_settings_in_a_recipe_fail_before_any_model_loads(tmp_path):
    write_recipe(tmp_path, "no/such/model", comparisons={"a": {"ar": {"method": "ar"}, "p": {"method": "pld",
                                                                                            "options": {"ngram": 9}}}})
    with pytest.raises(InputError, match="no option"):
        run_experiment(load_recipe("toy", root=tmp_path), out_dir=tmp_path / "out")
