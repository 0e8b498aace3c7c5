"""`multispec experiment NAME`: recipes are data, every shipped recipe builds valid runs, a run answers every
comparison side by side per language, writes the tables and resumes instead of answering again."""
from __future__ import annotations

import json

import pytest
from tiny import save_tiny_checkpoint

from data_processing.errors import InputError
from evaluation.answers import load_answers
from multispec.experiment import plan, run_experiment
from multispec.recipe import EXPERIMENTS, load_recipe, recipe_names


@pytest.mark.parametrize("name", recipe_names())
def test_every_shipped_recipe_builds_its_runs(name, tmp_path):
    recipe = load_recipe(name)  # stage tools and their settings are checked here
    plans, notes = plan(recipe, tmp_path, quick=True)
    assert len(plans) >= max(1, len(recipe.languages)) or not recipe.comparisons
    for stratum, runs in plans.items():
        left_out = sum(1 for note in notes if note.startswith(f"{stratum}:"))
        assert len(runs) + left_out == sum(len(named) for named in recipe.comparisons.values())
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


def test_one_comparison_runs_alone_and_keeps_the_full_results(tmp_path):
    target = save_tiny_checkpoint(tmp_path / "target")
    (tmp_path / "q_de.jsonl").write_text(json.dumps(
        {"question_id": "de-0", "category": "translation-de", "turns": ["Translate: de 0 0"], "reference": ["x"]}) + "\n")
    write_recipe(tmp_path, target, languages=["de"])
    recipe = load_recipe("toy", root=tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.md").write_text("the full run's tables")
    with pytest.raises(InputError, match=r"no comparison\(s\) \['copied'\]; its comparisons: \['copying', 'seeded'\]"):
        run_experiment(recipe, out_dir=tmp_path / "out", comparisons=["copied"])
    report = run_experiment(recipe, out_dir=tmp_path / "out", comparisons=["seeded"])
    assert report == tmp_path / "out" / "results-seeded.md"
    assert "## de: seeded" in report.read_text() and "copying" not in report.read_text()
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.jsonl")) == \
        ["de/seeded/ar.jsonl", "de/seeded/la.jsonl"]
    assert (tmp_path / "out" / "results.md").read_text() == "the full run's tables"


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


def write(root, name: str, recipe: dict) -> None:
    (root / name).mkdir(exist_ok=True)
    (root / name / "recipe.json").write_text(json.dumps(recipe))


def test_an_included_recipe_gives_the_stages_named(tmp_path):
    """{"from": R, "stages": [...]} takes just those of R's stages, in R's order (not a prefix, as "until" does);
    a name R lacks, or both "until" and "stages", is a clear error."""
    stages = [{"name": name, "tool": "distill", "settings": {"prompts": f"{name}.jsonl", "out": f"d_{name}.jsonl"}}
              for name in ("first", "second", "third")]
    write(tmp_path, "data", {"question": "pipeline", "stages": stages})
    write(tmp_path, "study", {"question": "q", "stages": [{"from": "data", "stages": ["third", "first"]}]})
    assert [stage["name"] for stage in load_recipe("study", root=tmp_path).stages] == ["first", "third"]
    for include, error in (({"from": "data", "stages": ["fourth"]}, "no stage 'fourth'"),
                           ({"from": "data", "stages": "first"}, "at most one of"),
                           ({"from": "data", "until": "first", "stages": ["third"]}, "at most one of")):
        write(tmp_path, "study", {"question": "q", "stages": [include]})
        with pytest.raises(InputError, match=error):
            load_recipe("study", root=tmp_path)


def test_stages_make_data_per_language_resume_and_feed_the_runs(tmp_path):
    """A pipeline recipe distils per language ({lang}) with a tiny target; a second recipe includes its stages (made
    once, not repeated), sets a variable, and its strata, registry CPU options and report come out as declared."""
    target = save_tiny_checkpoint(tmp_path / "target")
    for lang in ("de", "fr"):
        (tmp_path / f"pool_{lang}.jsonl").write_text("".join(json.dumps(
            {"id": f"{lang}{i}", "conversations": [{"from": "human", "value": f"Say {lang} {i}"}]}) + "\n" for i in range(3)))
        for stratum in ("", "_long"):
            (tmp_path / f"q_{lang}{stratum}.jsonl").write_text("".join(json.dumps(
                {"question_id": f"{lang}{stratum}-{i}", "category": f"translation-{lang}{stratum}",
                 "turns": [f"Translate: {lang} {i} {i}"], "reference": ["x"]}) + "\n" for i in range(3)))
    distill = {"name": "distill", "tool": "distill", "settings": {
        "prompts": str(tmp_path / "pool_{lang}.jsonl"), "out": str(tmp_path / "d_{lang}.jsonl"), "target": target,
        "dtype": "float32", "temperatures": [0.0], "limit": "{count}", "max_new_tokens": 4}}
    write(tmp_path, "data", {"question": "pipeline", "languages": ["de"], "variables": {"count": "2"},
                             "stages": [distill]})
    with pytest.raises(InputError, match="no variable"):
        load_recipe("data", root=tmp_path, variables={"steps": "3"})
    with pytest.raises(InputError, match="no stage"):
        run_experiment(load_recipe("data", root=tmp_path), out_dir=tmp_path / "o", only=["train"])
    assert run_experiment(load_recipe("data", root=tmp_path), out_dir=tmp_path / "o", only=["distill"],
                          languages=["de", "fr"]) is None
    rows = {lang: sorted(json.loads(line)["id"] for line in (tmp_path / f"d_{lang}.jsonl").open()) for lang in ("de", "fr")}
    assert rows == {"de": ["de0@t0", "de1@t0"], "fr": ["fr0@t0", "fr1@t0"]}
    assert (tmp_path / "o" / "stages.log").read_text().count("(distill") == 2

    write(tmp_path, "study", {
        "question": "q", "languages": ["de"], "stages": [{"from": "data", "until": "distill"}, {"from": "data"}],
        "questions": {"{lang}": str(tmp_path / "q_{lang}.jsonl"),
                      "{lang}-two": {"file": str(tmp_path / "q_{lang}_long.jsonl"), "limit": 2}},
        "settings": {"target": target, "dtype": "float32", "max_new_tokens": 5, "warmup": 0, "device": "cpu"},
        "comparisons": {"m": {"ar": {"method": "ar"}, "ctc": {"method": "ctc", "options": {"head": "embedded:{lang}/ctc"}},
                              "sd": {"method": "sd", "options": {"drafter": "embedded:xx/sd"}}}},
        "report": True})
    recipe = load_recipe("study", root=tmp_path, variables={})
    assert len(recipe.stages) == 1  # the same stage included twice runs once
    plans, notes = plan(recipe, tmp_path / "s")
    assert set(plans) == {"de", "de-two"} and notes == ["de: `sd` left out, no shipped weights embedded:xx/sd",
                                                       "de-two: `sd` left out, no shipped weights embedded:xx/sd"]
    ctc_args, ctc_options = plans["de"]["m/ctc"]
    assert ctc_options["total_tokens"] == 10  # the registry's CPU size; a GPU run keeps the method's own default
    assert plans["de-two"]["m/ar"][0].limit == 2 and plans["de"]["m/ar"][0].limit is None
    # the shipped German CTC head does not fit the tiny target: the study stops on it, naming the weights
    with pytest.raises(ValueError, match="trained for hidden size 640"):
        run_experiment(recipe, out_dir=tmp_path / "s")
    write(tmp_path, "study", {**json.loads((tmp_path / "study" / "recipe.json").read_text()),
                              "comparisons": {"m": {"ar": {"method": "ar"}, "pld": {"method": "pld"}}}})
    results = run_experiment(load_recipe("study", root=tmp_path), out_dir=tmp_path / "s2").read_text()
    assert "## de: m" in results and "## de-two: m" in results and "## All strata: m" in results
    assert len(load_answers(tmp_path / "s2" / "all" / "m" / "pld.jsonl")) == 5  # 3 + 2 questions
    assert (tmp_path / "s2" / "report" / "m" / "speedup.png").is_file()


def test_stage_settings_are_read_as_the_command_line_reads_them(tmp_path):
    """A recipe's values go through each option's own type and choices, a single value fills a list option, flags
    take true/false, and a training stage's config and overrides are checked when the recipe loads."""
    from data_generation import generate, hidden_states
    from multispec.options import namespace
    from train import run as train_run

    assert namespace(hidden_states.build_parser(), {"data": "d", "out": "o", "layers": "15", "skip": "3"}, "t").layers == ["15"]
    assert namespace(train_run.build_parser(), {"config": "c", "resume": "false", "overrides": {"steps": 2}}, "t").resume is False
    for bad, message in [({"limit": 0}, "limit=0"), ({"backend": "nope"}, "not one of"), ({"skip": -1}, "must be >= 0")]:
        with pytest.raises(InputError, match=message):
            namespace(generate.build_parser(), {"prompts": "p", "out": "o", **bad}, "t")
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"task": "drafter_lm", "output_dir": str(tmp_path / "o"), "steps": 2,
                                  "task_args": {"data": "x.jsonl"}}))
    for overrides, message in [({"stpes": 3}, "unknown training setting 'stpes'"), ({"task_args.nope": 1}, "nope")]:
        write(tmp_path, "bad", {"question": "q", "stages": [{"name": "t", "tool": "train", "settings": {
            "config": str(config), "overrides": overrides}}]})
        with pytest.raises(InputError, match=message):
            load_recipe("bad", root=tmp_path)
    write(tmp_path, "strata", {"question": "q", "languages": ["de", "fr"], "questions": {"all": "q_{lang}.jsonl"},
                               "comparisons": {"c": {"ar": {"method": "ar"}, "pld": {"method": "pld"}}}})
    with pytest.raises(InputError, match="needs \\{lang\\} too"):
        load_recipe("strata", root=tmp_path)
