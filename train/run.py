"""The one training entry point.

    python -m train.run --config train/configs/drafter_lm_quick_pretrain.json [--resume] [key=value ...]
    accelerate launch [--multi_gpu | --config_file fsdp.yaml] -m train.run --config ... [--resume]

Overrides: any TrainConfig field (`steps=200`) or task argument (`task_args.data=data/train/fr.jsonl`).
"""
from __future__ import annotations

import argparse
import json
import sys

from data_processing.errors import run_command
from train.config import load_config
from train.loop import check_output_dir, train
from train.tasks import build_task, check_task_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--resume", action="store_true", help="continue from output_dir/checkpoint if present")
    parser.add_argument("overrides", nargs="*", default=[], help="key=value settings over the config file")
    return parser


def check(args: argparse.Namespace) -> None:
    """What can be checked before anything loads (a recipe's stage, when the recipe is read)."""
    cfg = load_config(args.config, args.overrides)
    check_task_args(cfg.task, cfg.task_args)


def run(args: argparse.Namespace) -> None:
    """`args.overrides`: key=value strings from the command line, or a {key: value} mapping from a recipe."""
    cfg = load_config(args.config, args.overrides)
    check_task_args(cfg.task, cfg.task_args)
    check_output_dir(cfg, args.resume)  # before the task loads its data and models
    log = train(cfg, build_task(cfg.task, cfg.task_args), resume=args.resume)
    if log:
        print(json.dumps(log[-1]), file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    run(build_parser().parse_args(argv))


if __name__ == "__main__":
    run_command(main)
