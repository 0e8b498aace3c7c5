"""`multispec TOOL [options]`: one command for every tool of the harness.

Each tool is a module with `main(argv)`; this file only names them, groups them for `--help` and hands the rest
of the command line over unchanged (`multispec run --method pld ...` is `python -m evaluation.run --method pld
...`, which keeps working). Bad input anywhere below prints one `error:` line and exits 2.
"""
from __future__ import annotations

import difflib
import importlib
import sys
from dataclasses import dataclass

from data_processing.errors import run_command


@dataclass(frozen=True)
class Tool:
    module: str
    summary: str


SECTIONS: dict[str, dict[str, Tool]] = {
    "answer and compare": {
        "methods": Tool("multispec.methods", "every decoding method: what it needs, its options and defaults"),
        "run": Tool("evaluation.run", "one method over a question file -> an answer file (resumes)"),
        "side-by-side": Tool("evaluation.side_by_side", "several named configurations question by question, one target"),
        "equal": Tool("evaluation.equal", "lossless check: answer files against plain decoding, token by token"),
        "speed": Tool("evaluation.speed", "speedup, MAT, degenerate-run flags, chrF/BLEU, acceptance per depth"),
        "report": Tool("evaluation.report", "markdown report and plots over many answer files"),
    },
    "data": {
        "data-translation": Tool("data_processing.build_translation",
                                 "X->English questions, long strata and training pools from gettext catalogs"),
        "data-builtin": Tool("data_processing.build_builtin", "the built-in multilingual chat / summary / QA set"),
        "data-online": Tool("data_processing.build_online", "a public benchmark (hub or local files) as questions"),
        "distill": Tool("data_generation.generate", "self-distillation: the target answers training prompts"),
        "hidden-states": Tool("data_generation.hidden_states",
                              "the target's features for head training: self-distilled or teacher-forced"),
    },
    "train": {
        "train": Tool("train.run", "train a drafter or a head from a config (accelerate launch for many GPUs)"),
        "calibrate-tree": Tool("evaluation.calibrate_tree", "a static draft tree from trained heads' accuracy"),
        "ship": Tool("train.ship", "trained runs -> shipped weights (bf16, tree, provenance) under weights/"),
    },
    "serve and judge": {
        "serve": Tool("llm_judge.serve", "an OpenAI-compatible server decoding with any method"),
        "judge": Tool("llm_judge.judge", "LLM-as-a-judge over answer files through an OpenAI-compatible endpoint"),
        "judge-show": Tool("llm_judge.show", "tables of judgments: scores and win rates"),
    },
    "studies and checks": {
        "size-sweep": Tool("evaluation.size_sweep", "sd drafter sizes: acceptance, cost ratio, speedup per gamma"),
        "drafter-matrix": Tool("evaluation.drafter_matrix", "language x drafter matrix of MAT and speedup"),
        "quantization": Tool("evaluation.quantization", "int8 target and/or drafter on CPU"),
        "compare-hf": Tool("evaluation.compare_hf", "our loop against Hugging Face's own implementations"),
        "bench-loop": Tool("evaluation.bench_loop", "loop overhead and forward cost against verified tokens"),
        "bench-distill": Tool("data_generation.bench_distill", "distillation throughput: continuous vs static batches"),
        "ceiling": Tool("data_generation.ceiling", "the tokens/s this machine's matrix products allow dumps and distillation"),
        "host-syncs": Tool("evaluation.host_syncs", "host syncs per target forward, method by method"),
        "gpu-check": Tool("evaluation.gpu_check", "the prepared GPU check: every method, one table"),
        "experiment": Tool("multispec.experiment", "a study from its recipe, experiments/NAME (no name: the list)"),
    },
}
TOOLS: dict[str, Tool] = {name: tool for section in SECTIONS.values() for name, tool in section.items()}


def usage() -> str:
    width = max(map(len, TOOLS)) + 2
    lines = ["usage: multispec TOOL [options]      (multispec TOOL --help: that tool's options)", ""]
    for section, tools in SECTIONS.items():
        lines.append(f"{section}:")
        lines += [f"  {name:<{width}}{tool.summary}" for name, tool in tools.items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        raise SystemExit(0 if argv else 2)
    name, rest = argv[0], argv[1:]
    if name not in TOOLS:
        close = difflib.get_close_matches(name, TOOLS, n=3)
        print(f"multispec: unknown tool {name!r}" + (f"; did you mean {' or '.join(close)}?" if close else "")
              + "\n\n" + usage(), file=sys.stderr)
        raise SystemExit(2)
    sys.argv = [f"multispec {name}", *rest]  # argparse's usage lines name the command as it was typed
    run_command(importlib.import_module(TOOLS[name].module).main, rest)
