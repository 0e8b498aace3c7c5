"""Turn a public benchmark into a question file, from the hub or from local files in the same schema.

    python -m data_processing.build_online --benchmark wmt16-de-en [--n 80] [--data-files PATH ...] --out FILE

Benchmarks: wmt16-de-en, wmt14-fr-en, wmt16-ru-en, wmt19-zh-en, jparacrawl-ja-en, mt-bench, gsm8k,
xlsum-ja, sharegpt. The first n usable rows of the split are kept, in the source's order.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data_processing.online import BENCHMARKS, OnlineSourceError, load_benchmark
from data_processing.online_schemas import SchemaError
from data_processing.questions import QuestionFileError, write_questions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", required=True, choices=list(BENCHMARKS))
    parser.add_argument("--n", type=int, default=80, help="questions to keep")
    parser.add_argument("--data-files", type=Path, nargs="+", help="local JSON/JSONL/parquet files instead of the hub")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        rows = load_benchmark(args.benchmark, args.n, args.data_files)
        if not rows:
            raise SchemaError(f"{args.benchmark}: no usable rows in the source")
        n = write_questions(args.out, rows)
    except (OnlineSourceError, SchemaError, QuestionFileError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if n < args.n:
        print(f"note: only {n} usable rows (asked for {args.n})", file=sys.stderr)
    print(f"wrote {n} {args.benchmark} questions to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
