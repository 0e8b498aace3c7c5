"""Package trained runs as the weights shipped with the project (weights/<target>/<lang>/<method>/).

    python -m train.ship --runs outputs/embedded_weights/de --out weights/gemma-3-270m/de

Each run folder of `train.run` (`final/`, `checkpoint/config.json`, optionally the `tree.json` and
`held_apart.json` of evaluation.calibrate_tree) becomes one folder holding the trained weights in
bfloat16 (heads load them into the drafting dtype: the target's unless `--draft-dtype` says otherwise), the shape
and draft-vocabulary files, the CPU tree where there is one, and provenance.json: the command that rebuilds it,
the commit, the training settings, the data it read, what training started from (the earlier run's settings, or the
whole provenance of shipped weights it continued) and the held-apart top-1 accuracy per depth. The 33 MB tokenizer is left out: shipped
weights take the tokenizer of the target named in their provenance (model.common.zoo.tokenizer_home).
Run folders that are not one of the shipped methods (e.g. the sd drafter's pretraining) are skipped, and so are runs
whose weights already ship (shipping them again would record them as continuing themselves).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from evaluation.environment import git_commit
from model.common.heads import local_head
from model.common.zoo import DEFAULT_TARGET
from train.tasks.features import DataSource, conversation_range, data_sources, source_length

SHIPPED_METHODS = ("sd", "eagle", "eagle3", "medusa", "hydra", "ctc")
REBUILD = "multispec experiment embedded_weights"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                   "chat_template.jinja")


def data_rows(data: DataSource | list[DataSource], limit: int | None, skip: int = 0) -> list[dict]:
    """Each data source with the rows training read: conversations of a feature dump, or lines of a JSONL file."""
    rows = []
    for source, its_limit, its_skip in data_sources(data, limit, skip):
        total = source_length(source)
        rows.append({"source": source, "rows": len(conversation_range(source, total, its_limit, its_skip)), "of": total})
    return rows


def training(settings: dict) -> dict:
    """What a train.run checkpoint's config says about the run: task, steps, optimizer settings, data read."""
    args = settings["task_args"]
    return {"task": settings["task"], "steps": settings["steps"], "batch_size": settings["batch_size"],
            "lr": settings["lr"], "task_args": args, "data": data_rows(args["data"], args.get("limit"), args.get("skip", 0))}


def depth_top1(held_apart: Path) -> dict | None:
    if not held_apart.exists():
        return None
    table = json.loads(held_apart.read_text())
    return {"top1": [round(ranks[0], 3) for ranks in table["rank_accuracy"]], "positions": table["positions"],
            **table["held_apart"]}


def earlier_training(init_from: str | None) -> tuple[str, dict | None]:
    """What the run started from: a shipped folder's whole provenance (a run that continued the shipped weights), or
    the training settings of the run folder next to it (the first stage of a recipe, e.g. the sd drafter's
    pretraining)."""
    if not init_from:
        return "pretraining", None
    folder = local_head(init_from)
    if (folder / "provenance.json").exists():
        return "continued_from", json.loads((folder / "provenance.json").read_text())
    config = folder.parent / "checkpoint" / "config.json"
    return "pretraining", training(json.loads(config.read_text())) if config.exists() else None


def bf16(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in tensors.items()}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def already_shipped(run: Path, out: Path) -> bool:
    """Whether `out` holds this run's final weights, as `ship` writes them."""
    files = sorted(p.name for p in (run / "final").glob("*.safetensors"))
    if not files or not all((out / name).exists() for name in files):
        return False
    for name in files:
        ours, theirs = bf16(load_file(str(run / "final" / name))), load_file(str(out / name))
        if ours.keys() != theirs.keys() or not all(torch.equal(ours[k], theirs[k]) for k in ours):
            return False
    return True


def ship(run: Path, out: Path, method: str, rebuild: str = REBUILD) -> dict:
    """One run folder -> one shipped folder; returns its provenance."""
    settings = json.loads((run / "checkpoint" / "config.json").read_text())
    args = settings["task_args"]
    earlier, history = earlier_training(args.get("init_from"))  # read before `out` (maybe the folder it names) goes
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for path in sorted((run / "final").iterdir()):
        if path.name in TOKENIZER_FILES:
            continue
        if path.suffix == ".safetensors":  # bf16 halves the clone; loaders cast back to the target's dtype
            save_file(bf16(load_file(str(path))), str(out / path.name), metadata={"format": "pt"})
        else:
            shutil.copy2(path, out / path.name)
    if (run / "tree.json").exists():
        shutil.copy2(run / "tree.json", out / "tree.json")
    provenance = {
        "method": method,
        "target": args.get("target") or DEFAULT_TARGET,
        "rebuild": rebuild,
        "commit": git_commit() or "unknown",
        **training(settings),
        earlier: history,
        "held_apart": depth_top1(run / "held_apart.json"),
        "bytes": folder_bytes(out),
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
    return provenance


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", required=True, help="folder of train.run outputs, one subfolder per method")
    parser.add_argument("--out", required=True, help="weights/<target>/<lang>")
    parser.add_argument("--rebuild", default=REBUILD, help="the command that rebuilds them, for provenance.json")
    return parser


def run(args: argparse.Namespace) -> None:
    total = 0
    for method in SHIPPED_METHODS:
        run = Path(args.runs, method)
        if not (run / "final").is_dir():
            print(f"[ship] {method}: no {run}/final, skipped")
            continue
        if already_shipped(run, Path(args.out, method)):
            print(f"[ship] {method}: {run}/final already ships in {Path(args.out, method)}, left as it is")
            total += folder_bytes(Path(args.out, method))
            continue
        provenance = ship(run, Path(args.out, method), method, args.rebuild)
        total += provenance["bytes"]
        top1 = provenance["held_apart"]["top1"] if provenance["held_apart"] else "not measured"
        print(f"[ship] {method}: {provenance['bytes'] / 1e6:.1f} MB, {provenance['steps']} steps, held-apart top-1 {top1}")
    print(f"[ship] {total / 1e6:.1f} MB of these runs' weights in {args.out}")


def main(argv: list[str] | None = None) -> None:
    run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
