"""`multispec methods`: every decoding method from the registry, with what it needs and its options.

    multispec methods [--format md|json]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from evaluation.tables import markdown_table
from model.common.zoo import shipped
from model.registry import METHODS, method_module

NEEDS = {None: "nothing", "drafter": "a draft LM (--drafter)", "head": "trained heads (--head)"}


def describe_methods() -> list[dict[str, Any]]:
    """One record per method: its registry entry and its Config's options with their defaults."""
    records = []
    languages = {}  # weights name -> languages they ship for
    for lang, weights in shipped():
        languages.setdefault(weights, []).append(lang)
    for name, method in METHODS.items():
        options = {f.name.replace("_", "-"): f.default for f in dataclasses.fields(method_module(name).Config)}
        records.append({"method": name, "summary": method.summary, "needs": NEEDS[method.weights],
                        "draft": f"{method.tree} tree" if method.tree else "chain",
                        "trained by": f"train task {method.training_task}" if method.training_task else "-",
                        "shipped weights": f"embedded:<lang>/{method.shipped} ({', '.join(languages.get(method.shipped, ['none']))})"
                        if method.shipped else "-",
                        "options": options,
                        "cpu options": {k.replace("_", "-"): v for k, v in method.cpu_options.items()}})
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multispec methods", description=__doc__.split("\n")[0])
    parser.add_argument("--format", choices=["md", "json"], default="md")
    args = parser.parse_args(argv)
    records = describe_methods()
    if args.format == "json":
        print(json.dumps(records, indent=2))
        return 0
    header = ["method", "needs", "draft", "trained by", "shipped weights", "options (defaults)",
              "studies without a GPU", "summary"]
    print(markdown_table(header, [
        [r["method"], r["needs"], r["draft"], r["trained by"], r["shipped weights"],
         " ".join(f"--{k} {v!r}" for k, v in r["options"].items()) or "-",
         " ".join(f"--{k} {v!r}" for k, v in r["cpu options"].items()) or "-", r["summary"]] for r in records]))
    print("\nA method's options go after it: multispec run --method eagle2 --head H --total-tokens 20 ...")
    return 0
