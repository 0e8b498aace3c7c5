"""Write the built-in multilingual question set (chat, summarization, QA in en/de/fr/ja/ru/zh).

    python -m data_processing.build_builtin --out data/questions/builtin.jsonl [--langs en de ...]
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from data_processing.builtin_set import BUILTIN_LANGUAGES, builtin_rows
from data_processing.questions import QuestionFileError, write_questions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/questions/builtin.jsonl"))
    parser.add_argument("--langs", nargs="+", default=list(BUILTIN_LANGUAGES), choices=BUILTIN_LANGUAGES)
    return parser


def run(args: argparse.Namespace) -> None:
    rows = builtin_rows(tuple(args.langs))
    n = write_questions(Path(args.out), rows)
    for category, count in sorted(Counter(r["category"] for r in rows).items()):
        print(f"{category:<18}{count:>4}")
    print(f"wrote {n} questions to {args.out}")


def main(argv: list[str] | None = None) -> int:
    try:
        run(build_parser().parse_args(argv))
    except QuestionFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
