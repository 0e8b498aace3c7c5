"""The front door: the installed `multispec` command names every tool of the project and hands its arguments over
unchanged; `multispec methods` is the registry, not a second list."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from multispec.cli import TOOLS, main
from model.registry import METHODS, TREE_METHODS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data_processing", "data_generation", "evaluation", "llm_judge", "train", "model")


def command_line_modules() -> set[str]:
    """Every module of the project that runs as `python -m`."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if re.search(r'^if __name__ == "__main__":', path.read_text(encoding="utf-8"), re.MULTILINE):
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_every_command_line_tool_is_a_multispec_tool():
    assert command_line_modules() <= {tool.module for tool in TOOLS.values()}


def test_the_installed_command_lists_every_tool():
    """The README's set-up installs the console script; a missing install step fails here, not for a user."""
    command = Path(sys.executable).parent / "multispec"
    assert command.exists(), "the multispec command is not installed: run `bash scripts/test.sh` (scripts/env.sh)"
    done = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    assert all(f"  {name} " in done.stdout for name in TOOLS)


def test_arguments_reach_the_tool_unchanged(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["methods", "--format", "json"])
    assert exit_.value.code == 0
    records = {r["method"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(records) == list(METHODS)
    assert {name for name, r in records.items() if r["draft"] != "chain"} == TREE_METHODS
    assert records["eagle2"]["options"]["total-tokens"] == 60 and records["sd"]["needs"].startswith("a draft LM")


def test_bad_input_is_one_line_and_unknown_tools_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["speed", "--baseline", str(tmp_path / "missing.jsonl"), "--answers", str(tmp_path / "x.jsonl")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: ") and "missing.jsonl" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:
        main(["sped"])
    assert exit_.value.code == 2 and "did you mean speed" in capsys.readouterr().err
