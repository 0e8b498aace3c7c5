"""Command-line options shared by every tool that loads the target: declared here once, with one default each."""
from __future__ import annotations

import argparse

from model.common.zoo import DEFAULT_TARGET


def add_target_options(parser: argparse.ArgumentParser, *, dtype: bool = True, device: bool = True) -> None:
    """--target, and --dtype / --device for tools that load the target themselves."""
    parser.add_argument("--target", default=DEFAULT_TARGET,
                        help=f"embedded name ({DEFAULT_TARGET}, smollm2-135m), local folder or hub id")
    if dtype:
        parser.add_argument("--dtype", default="auto",
                            help="auto (bfloat16 where the hardware computes it natively, else float32), "
                                 "float32, bfloat16 or float16")
    if device:
        parser.add_argument("--device", default=None, help="default: cuda when present, else cpu")
