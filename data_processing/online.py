"""Public benchmarks loaded through `datasets`, from the hub or from local files in the same schema.

Each benchmark names where its rows live on the hub and a mapper (online_schemas) that turns them
into question rows. `data_files` swaps the hub for local JSON/JSONL/parquet files holding the same
rows, which is how machines without a hub (and the tests) use the same code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from data_processing import online_schemas as schemas


class OnlineSourceError(RuntimeError):
    """The benchmark's rows could not be read (no network, unknown hub id, unreadable local file)."""


@dataclass(frozen=True)
class Benchmark:
    hub_id: str
    config: str | None
    split: str
    to_rows: schemas.Mapper
    schema: str  # one-line description of a record, repeated in error messages
    hub_kwargs: dict[str, Any] = field(default_factory=dict)


_WMT = '{"translation": {"%s": str, "en": str}}'

BENCHMARKS: dict[str, Benchmark] = {
    "wmt16-de-en": Benchmark("wmt/wmt16", "de-en", "test", schemas.translation("de", "wmt16-de-en"), _WMT % "de"),
    "wmt14-fr-en": Benchmark("wmt/wmt14", "fr-en", "test", schemas.translation("fr", "wmt14-fr-en"), _WMT % "fr"),
    "wmt16-ru-en": Benchmark("wmt/wmt16", "ru-en", "test", schemas.translation("ru", "wmt16-ru-en"), _WMT % "ru"),
    # the hub copy of WMT19 has no test split; its validation split is newstest2018
    "wmt19-zh-en": Benchmark("wmt/wmt19", "zh-en", "validation", schemas.translation("zh", "wmt19-zh-en"), _WMT % "zh"),
    # a parquet re-upload of JParaCrawl v3 (train only, ~3.7M pairs) with WMT-style rows
    "jparacrawl-ja-en": Benchmark(
        "Hoshikuzu/JParaCrawl", None, "train", schemas.translation("ja", "jparacrawl-ja-en"), _WMT % "ja"
    ),
    "mt-bench": Benchmark(
        "HuggingFaceH4/mt_bench_prompts", None, "train", schemas.mt_bench,
        '{"prompt": [str], "prompt_id": int, "category": str, "reference": [str]} (or FastChat question.jsonl rows)',
    ),
    "gsm8k": Benchmark("openai/gsm8k", "main", "test", schemas.gsm8k, '{"question": str, "answer": str}'),
    # if the hub refuses the script-based repo, its parquet export (refs/convert/parquet,
    # japanese/test/*.parquet) holds the same rows: pass it with --data-files
    "xlsum-ja": Benchmark("csebuetnlp/xlsum", "japanese", "test", schemas.xlsum_ja, '{"text": str, "summary": str}'),
    "sharegpt": Benchmark(
        "anon8231489123/ShareGPT_Vicuna_unfiltered", None, "train", schemas.sharegpt,
        '{"id": str, "conversations": [{"from": str, "value": str}]}',
        hub_kwargs={"data_files": "ShareGPT_V3_unfiltered_cleaned_split.json"},
    ),
}

_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def _local_builder(files: list[Path]) -> str:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise OnlineSourceError(f"--data-files not found: {', '.join(missing)}")
    kinds = {_BUILDERS.get(f.suffix.lower()) for f in files}
    if None in kinds or len(kinds) != 1:
        raise OnlineSourceError(
            f"--data-files must all be .json/.jsonl or all .parquet, got {', '.join(f.name for f in files)}"
        )
    return kinds.pop()


def _records(bench: Benchmark, data_files: list[Path] | None, load: Callable[..., Any]) -> Iterable[dict]:
    if data_files:
        builder = _local_builder(data_files)
        return load(builder, data_files=[str(f) for f in data_files], split="train")
    # streaming: take the first n rows without downloading whole corpora such as JParaCrawl
    return load(bench.hub_id, bench.config, split=bench.split, streaming=True, **bench.hub_kwargs)


def load_benchmark(
    name: str, n: int, data_files: list[Path] | None = None, load: Callable[..., Any] | None = None
) -> list[dict]:
    """Up to n question rows of a benchmark; `load` defaults to datasets.load_dataset (tests pass a fake)."""
    bench = get_benchmark(name)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if load is None:
        from datasets import load_dataset as load  # imported here: slow, and not needed for the error paths
    try:
        # reading a streamed data set fetches lazily, so network errors can surface while mapping too
        return bench.to_rows(_records(bench, data_files, load), n)
    except (schemas.SchemaError, OnlineSourceError):
        raise
    except Exception as e:
        where = f"local files {', '.join(map(str, data_files))}" if data_files else f"the hub ({bench.hub_id})"
        raise OnlineSourceError(
            f"could not read {name} from {where}: {type(e).__name__}: {e}\n"
            f"Without network access, download the rows once and pass them with --data-files PATH "
            f"(JSON, JSONL or parquet; one record per row: {bench.schema})."
        ) from e
