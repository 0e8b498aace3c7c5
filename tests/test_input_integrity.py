"""Nothing lost, nothing silently wrong: the writers under concurrent runs and broken last lines, settings checked on
resume, refusals that leave files as they were, and bad input reported as one line before any model loads."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_speed_report import row, write
from tiny import save_tiny_checkpoint

from data_generation import generate
from data_generation.prompts import PromptFileError, read_prompts
from data_processing.errors import run_command
from evaluation import equal, run, speed
from evaluation.answers import AnswerFileError
from evaluation.jsonl_store import JsonlStore, OutputFileError, read_rows
from train import run as train_run

ROOT = Path(__file__).resolve().parents[1]


def command_error(capsys, main, argv: list[str]) -> str:
    """Run `main` as its command line does: it must stop with status 2 and a one-line error, no traceback."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        run_command(main, argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def questions(tmp_path) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"question_id": f"q{i}", "category": "translation-de",
                                        "turns": [f"Satz {i}"]}) + "\n" for i in range(3)))
    return path


# 1. a last row without its newline
def test_append_after_a_last_row_without_newline_keeps_both_rows(tmp_path):
    out = tmp_path / "a.jsonl"
    out.write_text(json.dumps({"id": 1}))  # complete row, no final newline (an editor, another tool)
    with JsonlStore(out) as store:
        assert store.rows == [{"id": 1}]
        store.append({"id": 2})
    assert read_rows(out) == [{"id": 1}, {"id": 2}]
    assert out.read_text().count("\n") == 2


# 2. training into a finished output_dir
def test_training_refuses_to_overwrite_a_finished_run(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "final").mkdir(parents=True)
    (out / "log.jsonl").write_text('{"step": 10}\n')
    config = str(ROOT / "train/configs/drafter_lm_quick_pretrain.json")
    line = command_error(capsys, train_run.main, ["--config", config, f"output_dir={out}"])
    assert "already holds a run (final, log.jsonl)" in line and "--resume" in line
    assert (out / "log.jsonl").read_text() == '{"step": 10}\n'  # untouched


# 3. two writers of one file
def test_a_second_writer_is_refused_while_the_first_holds_the_file(tmp_path, questions):
    out = tmp_path / "answers.jsonl"
    with JsonlStore(out) as first:
        first.append({"question_id": "q0"})
        with pytest.raises(OutputFileError, match="being written by another run"):
            run.main(["--method", "ar", "--questions", str(questions), "--out", str(out)])  # before any load
        script = f"from evaluation.jsonl_store import JsonlStore; JsonlStore({str(out)!r})"
        other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                               env={"PYTHONPATH": str(ROOT), "PATH": ""})
        assert other.returncode != 0 and "being written by another run" in other.stderr
    assert read_rows(out) == [{"question_id": "q0"}]
    with JsonlStore(out) as again:  # released on close
        assert len(again.rows) == 1


# 4. a refused run leaves the file as it found it
def test_a_refused_run_does_not_rewrite_the_file(tmp_path, questions):
    out = tmp_path / "answers.jsonl"
    other = {"question_id": "q0", "config": {"method": "ar", "target": "other-model"}}
    out.write_text(json.dumps(other) + "\n" + '{"question_id": "q1", "con')  # + an interrupted last write
    before = out.read_bytes()
    with pytest.raises(OutputFileError, match="another configuration"):
        run.main(["--method", "ar", "--questions", str(questions), "--out", str(out)])
    assert out.read_bytes() == before and not out.with_suffix(".jsonl.partial").exists()


def test_the_truncated_last_line_is_cut_only_when_the_next_row_is_written(tmp_path):
    out = tmp_path / "a.jsonl"
    out.write_text('{"id": 1}\n{"id": 2, "conv')
    with JsonlStore(out) as store:
        assert store.rows == [{"id": 1}]
        assert out.read_text().endswith('"conv')
        store.append({"id": 3})
    assert read_rows(out) == [{"id": 1}, {"id": 3}]
    assert out.with_suffix(".jsonl.partial").read_text().endswith('"conv')


def test_an_unused_new_output_file_is_not_left_behind(tmp_path):
    with JsonlStore(tmp_path / "new.jsonl"):
        pass
    assert not (tmp_path / "new.jsonl").exists()


# 5 and 13. prompt rows that cannot give a prompt
@pytest.mark.parametrize("bad, problem", [
    ({"question_id": 1, "turns": "Translate this"}, "'turns' must be a list of non-empty strings"),
    ({"id": 1, "conversations": "human: hi"}, "'conversations' must be a list"),
    ({"id": 1, "conversations": [{"from": "human", "value": None}]}, "first human turn must be a non-empty string"),
    ({"id": 1, "prompt": None}, "'prompt' must be a non-empty string"),
    ({"id": 1, "prompt": 7}, "'prompt' must be a non-empty string"),
    ([1, 2], "expected a JSON object"),
])
def test_malformed_prompt_rows_name_their_line(tmp_path, bad, problem):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": 0, "prompt": "fine"}) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(PromptFileError, match=f"p.jsonl:2: .*{problem}"):
        read_prompts(path)


# 6. generation resumes only rows made with the same settings
def test_generation_refuses_rows_made_with_other_settings(tmp_path, capsys):
    prompts = write(tmp_path / "p.jsonl", [{"id": "a", "prompt": "x"}])
    out = tmp_path / "d.jsonl"
    args = ["--prompts", str(prompts), "--out", str(out), "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
            "--model", "m", "--temperatures", "0"]
    config = generate.settings(generate.build_parser().parse_args(args))
    write(out, [{"id": "a@t0", "source_id": "a", "temperature": 0.0, "conversations": [], "config": config}])
    generate.main(args)  # same settings: everything is done, nothing is requested (nothing listens on the port)
    line = command_error(capsys, generate.main, [*args, "--max-new-tokens", "7"])
    assert "d.jsonl:1: row 'a@t0' was made with other settings" in line
    assert len(read_rows(out)) == 1


# 7 and 13. counts that cannot be right are usage errors, before anything loads
@pytest.mark.parametrize("main, argv", [
    (run.main, ["--method", "ar", "--questions", "q", "--out", "o", "--limit", "-1"]),
    (run.main, ["--method", "ar", "--questions", "q", "--out", "o", "--max-new-tokens", "0"]),
    (run.main, ["--method", "ar", "--questions", "q", "--out", "o", "--temperature", "-0.5"]),
    (generate.main, ["--prompts", "p", "--out", "o", "--limit", "-2"]),
    (generate.main, ["--prompts", "p", "--out", "o", "--batch-size", "0"]),
])
def test_impossible_counts_are_usage_errors(main, argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2 and "must be" in capsys.readouterr().err


# 8 and 12. equal names answers without a baseline, and compares texts when the files carry no token ids
def test_equal_names_unmatched_answers_and_compares_text_without_ids(tmp_path, capsys):
    base = write(tmp_path / "ar.jsonl", [row("q1", "de", "ar", [3], [1.0], [1, 1, 1])])
    answers = write(tmp_path / "pld.jsonl", [row("q1", "de", "pld", [3], [1.0], [3]),
                                             row("q9", "de", "pld", [3], [1.0], [3])])
    equal.main(["--baseline", str(base), "--answers", str(answers)])
    out = capsys.readouterr().out
    assert "agreement: 1/1" in out and "1 answer(s) without a baseline row" in out and "q9" in out

    spec_bench = [row("q1", "de", "ar", [3], [1.0], [1, 1, 1]), row("q1", "de", "pld", [3], [1.0], [3])]
    for r, text in zip(spec_bench, ["Hello there", "Hello world"]):
        del r["choices"][0]["token_ids"]
        r["choices"][0]["turns"] = [text]
    base, answers = write(tmp_path / "sb-ar.jsonl", spec_bench[:1]), write(tmp_path / "sb-pld.jsonl", spec_bench[1:])
    with pytest.raises(SystemExit, match="1 divergence"):
        equal.main(["--baseline", str(base), "--answers", str(answers)])
    out = capsys.readouterr().out
    assert "comparing answer texts" in out and "q1 turn 0 character 6 -> TEXT MISMATCH" in out


# 9. speedups only against plain decoding made the same way
def test_speed_refuses_a_baseline_that_is_not_comparable(tmp_path, capsys):
    settings = {"target": "t", "max_new_tokens": 64, "temperature": 0.0, "top_p": 1.0, "dtype": "float32",
                "chat_template": "auto", "stop": None}
    ar = write(tmp_path / "ar.jsonl", [row("q1", "de", "ar", [8], [1.0], [1] * 8, config=settings)])
    pld = write(tmp_path / "pld.jsonl", [row("q1", "de", "pld", [8], [0.5], [4, 4], config=settings)])
    assert speed.evaluate(ar, [pld])[0].overall.speedup == pytest.approx(2.0)
    with pytest.raises(AnswerFileError, match="method 'pld'.*plain decoding"):
        speed.evaluate(pld, [pld])
    longer = write(tmp_path / "pld128.jsonl", [row("q1", "de", "pld", [8], [0.5], [4, 4],
                                                   config={**settings, "max_new_tokens": 128})])
    line = command_error(capsys, speed.main, ["--baseline", str(ar), "--answers", str(longer)])
    assert "other settings than the baseline" in line and "max_new_tokens 128 vs 64" in line
    unknown = write(tmp_path / "sb.jsonl", [row("q1", "de", "pld", [8], [0.5], [4, 4])])  # no recorded settings
    assert speed.main(["--baseline", str(ar), "--answers", str(unknown)]) == 0
    assert "WARNING: settings not checked" in capsys.readouterr().err


# 11. a draft model that cannot embed the target's ids
def test_sd_refuses_a_drafter_with_a_smaller_vocabulary(tmp_path):
    from tiny import tiny_llama

    from model.common.accept import AcceptConfig
    from model.common.target import Target
    from model.common.zoo import TokenizerMismatch
    from model.registry import build_drafter

    drafter = save_tiny_checkpoint(tmp_path / "drafter")
    small = tiny_llama(vocab_size=50)
    small.save_pretrained(drafter)  # the byte tokenizer has 259 ids, this drafter embeds 50
    target = Target(tiny_llama(vocab_size=259))
    with pytest.raises(TokenizerMismatch, match="embeds 50 and predicts 50 token ids, fewer than the target's"):
        build_drafter("sd", target, {"drafter": drafter}, accept=AcceptConfig())


# 15. one line naming the file and line, for every tool; checks that need no model come before it loads
def test_bad_files_are_one_line_errors(tmp_path, capsys, questions):
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b'{"question_id": "q0", "category": "x", "turns": ["a"]}\n{"question_id": "q1", "turns": ["\xe4"]}\n')
    line = command_error(capsys, run.main, ["--method", "ar", "--questions", str(broken), "--out", str(tmp_path / "o")])
    assert "broken.jsonl:2: not UTF-8 text" in line
    line = command_error(capsys, generate.main, ["--prompts", str(broken), "--out", str(tmp_path / "o")])
    assert "broken.jsonl:2: not UTF-8" in line
    answers = write(tmp_path / "a.jsonl", [row("q1", "de", "ar", [3], [1.0], [1, 1, 1])])
    (tmp_path / "b.jsonl").write_text(answers.read_text() + '{"question_id": "q2"}\n')
    line = command_error(capsys, equal.main, ["--baseline", str(answers), "--answers", str(tmp_path / "b.jsonl")])
    assert "b.jsonl:2:" in line
    unwritable = tmp_path / "a-file"
    unwritable.write_text("")
    line = command_error(capsys, run.main, ["--method", "ar", "--questions", str(questions),
                                            "--out", str(unwritable / "answers.jsonl")])
    assert "cannot write here" in line
    line = command_error(capsys, run.main, ["--method", "sd", "--gamma", "0", "--questions", str(questions),
                                            "--out", str(tmp_path / "o.jsonl")])
    assert "gamma" in line and not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("text, problem", [
    ('{"task": "eagle", "output_dir": "x",\n "stepz": 3}', "unknown training setting(s) ['stepz']"),
    ('{"task": "eagle",\n "output_dir": "x" "steps": 3}', "cfg.json:2: not valid JSON"),
    ('{"task": "eagle", "output_dir": "x", "steps": 0}', "steps must be a whole number >= 1"),
    ('{"task": "eagle", "output_dir": "x", "task_args": {"feature": "d"}}', "task 'eagle':"),
    ('{"task": "medusa2", "output_dir": "x"}', "unknown training task 'medusa2'"),
])
def test_bad_training_configs_are_one_line_errors(tmp_path, capsys, text, problem):
    (tmp_path / "cfg.json").write_text(text)
    line = command_error(capsys, train_run.main, ["--config", str(tmp_path / "cfg.json")])
    assert problem in line

