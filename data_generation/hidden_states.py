"""Dump the target's hidden states over self-distilled conversations, for training feature-level drafters.

    python -m data_generation.hidden_states --data distilled.jsonl --out DIR [--target gemma-3-270m]
        [--layers prenorm ...] [--dtype auto] [--batch-size 16] [--max-length 512] [--shard-size 2000]
        [--limit N] [--save-dtype bfloat16] [--answer-prefix ' '] [--continuation FIELD]

Self-distilled (default): each row of --data is a ShareGPT conversation [human prompt, gpt answer] the target
wrote. Teacher-forced (--continuation FIELD): each row is a prompt row (a training pool's {"id", "prompt"}, a
ShareGPT or a question row) whose FIELD holds any continuation, e.g. a pool's English `reference`
(`--continuation reference --answer-prefix ' '`): the target runs once over prompt + continuation, no generation,
and its own greedy choice is recorded at every continuation position, so heads learn the target's next token
over text it did not write (word-level distillation).

Tokens per conversation: tokenize(prompt) with the tokenizer's default special tokens (BOS) +
tokenize(answer_prefix + answer) without them + EOS, cut to --max-length; loss_mask is 1 over
answer + EOS. `generate.py` keeps answers verbatim (the space the target generates after "English:"
included); for files distilled elsewhere that stripped answers, --answer-prefix ' ' restores it.
Per token we keep the chosen layers' hidden states and, where the loss mask is 1, the target's greedy next token
(`target_argmax`, -1 on prompt positions, which no head trains on: the LM head over a 262k vocabulary costs more
than the rest of the model, so it runs on answer positions only; full logits would dwarf the features).

Layers (L = num_hidden_layers), as transformers 5.x numbers `output_hidden_states`:
    0         embeddings as fed to decoder layer 0 (Gemma scales them by sqrt(H) first)
    k (1..L-1) output of decoder layer k (1-based), before any norm
    L         output of the last decoder layer AFTER the final norm (what the LM head sees)
    prenorm   output of the last decoder layer BEFORE the final norm (default; EAGLE's feature).
              No HF index gives it (the library overwrites hidden_states[L] with the normed
              state), so a forward hook on the last decoder layer captures it.
    eagle3    EAGLE-3's three taps (2, L // 2, L - 3): the inputs of decoder layers 2, L // 2 and L - 3.
Negative integers count from L+1 as in Python. Shards are written atomically and a rerun of the
same command resumes; see `data_generation.feature_shards` for the format and the reader.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from tqdm import tqdm

from data_processing.errors import InputError, non_negative_int, run_command
from data_generation.feature_shards import FORMAT, INDEX_NAME, PRENORM, VERSION, StreamedShard, hidden_key, shard_name
from data_generation.local_backend import greedy_argmax
from data_generation.prompts import prompt_of, prompt_problem
from evaluation.jsonl_store import lock_exclusively, read_rows
from model.common.device import DTYPES, pick_device, pick_dtype
from model.eagle.net3 import default_feature_layers
from multispec.options import add_target_options

EAGLE3 = "eagle3"  # --layers shorthand for EAGLE-3's taps of the target at hand


class DumpSettingsMismatch(InputError):
    """An output folder whose index was made with other settings: mixing would corrupt the dataset."""


def parse_layers(specs: list[str], num_layers: int) -> list[int | str]:
    """Resolve --layers to HF hidden-state indices in [0, L] or 'prenorm'; dedupe, keep order.
    'eagle3' stands for EAGLE-3's low, mid and high taps of this target (2, L // 2, L - 3)."""
    if EAGLE3 in specs:
        at = specs.index(EAGLE3)
        specs = specs[:at] + [str(k) for k in default_feature_layers(num_layers)] + specs[at + 1:]
    layers: list[int | str] = []
    for spec in specs:
        if spec == PRENORM:
            layer: int | str = PRENORM
        else:
            try:
                k = int(spec)
            except ValueError:
                raise InputError(f"--layers: {spec!r} is neither an integer nor {PRENORM!r} nor {EAGLE3!r}") from None
            if not -(num_layers + 1) <= k <= num_layers:
                raise InputError(f"--layers: {k} out of range; the target has {num_layers} decoder layers, "
                                 f"so valid indices are 0..{num_layers} (or {PRENORM!r})")
            layer = k % (num_layers + 1)
        if layer not in layers:
            layers.append(layer)
    return layers


def layer_meaning(layer: int | str, num_layers: int) -> str:
    if layer == PRENORM:
        return f"output of decoder layer {num_layers} (the last) before the final norm"
    if layer == 0:
        return "embeddings as fed to decoder layer 1 (after any model-specific scaling)"
    if layer == num_layers:
        return f"output of decoder layer {num_layers} after the final norm (the LM head's input)"
    return f"output of decoder layer {layer} (1-based), before any norm"


def conversation_pair(row: dict[str, Any], number: int, continuation: str | None = None) -> tuple[str, str]:
    """(prompt, answer): a ShareGPT row's two turns, or with `continuation` a prompt row and its field of that name."""
    if continuation is not None:
        problem = prompt_problem(row)
        if problem is None and not isinstance(row.get(continuation), str):
            problem = (f"no {continuation!r} text to continue the prompt with (a training pool built before "
                       f"references were kept: rebuild it with python -m data_processing.build_translation)")
        if problem:
            raise InputError(f"data row {number} (id {row.get('id')!r}): {problem}")
        return prompt_of(row)[1], row[continuation]
    turns = row.get("conversations")
    if (not isinstance(turns, list) or len(turns) != 2 or not all(isinstance(t, dict) for t in turns)
            or [t.get("from") for t in turns] != ["human", "gpt"]
            or not all(isinstance(t.get("value"), str) for t in turns)):
        raise InputError(f"data row {number} (id {row.get('id')!r}): expected conversations "
                         "[{'from': 'human', 'value': str}, {'from': 'gpt', 'value': str}] "
                         "(for prompt rows with a continuation field, pass --continuation FIELD)")
    return turns[0]["value"], turns[1]["value"]


def tokenize_row(tokenizer, prompt: str, answer: str, max_length: int, answer_prefix: str = "") -> tuple[list[int], list[int]]:
    """(ids, loss_mask): prompt with default special tokens, answer without, then EOS; cut to max_length."""
    prompt_ids = tokenizer(prompt).input_ids
    answer_ids = tokenizer(answer_prefix + answer, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    ids = (prompt_ids + answer_ids)[:max_length]
    mask = ([0] * len(prompt_ids) + [1] * len(answer_ids))[:max_length]
    return ids, mask


def cast_checked(x: torch.Tensor, dtype: torch.dtype, name: str) -> torch.Tensor:
    """Cast for storage, refusing silent overflow (Gemma's pre-norm features reach 65,536 > float16's max)."""
    y = x.to(dtype)
    if not torch.isfinite(y).all():
        raise InputError(f"{name}: values up to {x.float().abs().max().item():.4g} do not fit {dtype}; "
                         "use --save-dtype bfloat16 or float32")
    return y


@torch.inference_mode()
def run_batch(model, rows: list[tuple[list[int], list[int]]], layers: list[int | str], pad_id: int) -> list[dict[str, torch.Tensor]]:
    """One right-padded forward over (ids, loss_mask) rows; per row: hidden_<layer> (n, H) and target_argmax (n,)
    (the greedy next token where the loss mask is 1, else -1), on CPU."""
    device = model.device
    lengths = [len(ids) for ids, _ in rows]
    ids = torch.full((len(rows), max(lengths)), pad_id, dtype=torch.long)  # (B, T)
    attention = torch.zeros_like(ids)
    loss = torch.zeros_like(ids, dtype=torch.bool)
    for b, (seq, mask) in enumerate(rows):
        ids[b, : len(seq)] = torch.tensor(seq)
        attention[b, : len(seq)] = 1  # right padding: real tokens never attend to pads, positions stay 0..n-1
        loss[b, : len(seq)] = torch.tensor(mask, dtype=torch.bool)
    decoder = model.get_decoder()
    captured: dict[str, torch.Tensor] = {}
    hook = None
    if PRENORM in layers:
        def keep_output(module, args, output):
            captured[PRENORM] = output[0] if isinstance(output, tuple) else output
        hook = decoder.layers[-1].register_forward_hook(keep_output)
    indices = [layer for layer in layers if layer != PRENORM]
    try:
        out = decoder(input_ids=ids.to(device), attention_mask=attention.to(device), use_cache=False,
                      output_hidden_states=indices or None)
    finally:
        if hook is not None:
            hook.remove()
    states = {layer: captured[PRENORM] if layer == PRENORM else out.hidden_states[layer] for layer in layers}  # (B, T, H)
    # argmax of the LM head on loss positions only; logit soft-capping/scaling is monotonic, so it cannot change it
    argmax = torch.full_like(ids, -1)
    argmax[loss] = greedy_argmax(model.get_output_embeddings().weight, out.last_hidden_state[loss.to(device)]).cpu()
    return [{**{hidden_key(layer): h[b, :n].cpu() for layer, h in states.items()}, "target_argmax": argmax[b, :n]}
            for b, n in enumerate(lengths)]


def dump_shard(model, rows: list[tuple[list[int], list[int]]], layers: list[int | str], batch_size: int,
               pad_id: int, save_dtype: torch.dtype, hidden_size: int, path: Path, ids: list[str], bar: tqdm) -> None:
    """Features of one shard's conversations, batched longest-first to limit padding, streamed to `path` in data
    order (each batch is written as soon as it is computed)."""
    lengths = torch.tensor([len(ids_) for ids_, _ in rows])
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), lengths.cumsum(0)])
    total = int(offsets[-1])
    # widest elements first, as safetensors' own writer orders them, so every tensor starts aligned to its size
    specs = {"input_ids": (torch.int64, (total,)), "target_argmax": (torch.int64, (total,)),
             "offsets": (torch.int64, (len(rows) + 1,)),
             **{hidden_key(layer): (save_dtype, (total, hidden_size)) for layer in layers},
             "loss_mask": (torch.uint8, (total,))}
    shard = StreamedShard(path, specs, {"ids": json.dumps(ids)})
    try:
        shard.write("input_ids", 0, torch.tensor([t for ids_, _ in rows for t in ids_], dtype=torch.int64))
        shard.write("loss_mask", 0, torch.tensor([m for _, mask in rows for m in mask], dtype=torch.uint8))
        shard.write("offsets", 0, offsets)
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i][0]))
        for first in range(0, len(order), batch_size):
            batch = order[first: first + batch_size]
            for i, item in zip(batch, run_batch(model, [rows[i] for i in batch], layers, pad_id)):
                row = int(offsets[i])
                shard.write("target_argmax", row, item["target_argmax"].to(torch.int64))
                for layer in layers:
                    key = hidden_key(layer)
                    shard.write(key, row, cast_checked(item[key], save_dtype, key))
            bar.update(sum(len(rows[i][0]) for i in batch))
    finally:
        shard.close()


def write_atomic_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per process: ranks never share a temporary file
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half an index


def shard_ids(path: Path) -> list[str]:
    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("ids", "[]"))


def check_existing(out: Path, settings: dict[str, Any], plan: list[list[str]]) -> set[int]:
    """Numbers of finished shards; refuse a folder made with other settings or other conversations."""
    index_path = out / INDEX_NAME
    if index_path.exists():
        old = json.loads(index_path.read_text(encoding="utf-8")).get("settings", {})
        diff = [f"{k}: {old.get(k)!r} there, {settings.get(k)!r} now" for k in {**old, **settings}
                if old.get(k) != settings.get(k)]
        if diff:
            raise DumpSettingsMismatch(f"{index_path} was made with other settings ({'; '.join(diff)}); "
                                       "rerun with the same settings to resume, or choose a new --out")
    planned = {shard_name(s) for s in range(len(plan))}
    stray = sorted(p.name for p in out.glob("shard_*.safetensors") if p.name not in planned)
    if stray:
        raise DumpSettingsMismatch(f"{out} holds {stray[0]} beyond the {len(plan)} shards this run plans "
                                   "(--limit or the data file changed); choose a new --out")
    done = set()
    for s, ids in enumerate(plan):
        path = out / shard_name(s)
        if path.exists():
            if shard_ids(path) != ids:
                raise DumpSettingsMismatch(f"{path} holds other conversations than this run plans for it "
                                           "(--limit or the data file changed); choose a new --out")
            done.add(s)
    return done


def finished(out: Path, plan: list[list[str]]) -> set[int]:
    """Shards on disk under their final name (written by this process or by another rank)."""
    return {s for s in range(len(plan)) if (out / shard_name(s)).exists()}


def update_index(out: Path, settings: dict[str, Any], config, plan: list[list[str]], tokens: list[int]) -> None:
    """Rewrite the index from what is on disk, under a lock: every rank renames its shard before taking the lock,
    so the last rank to write the index has seen every shard (and marks the dump complete)."""
    import fcntl

    with open(out / ".index.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        write_atomic_json(out / INDEX_NAME, build_index(settings, config, plan, tokens, finished(out, plan)))


def build_index(settings: dict[str, Any], config, plan: list[list[str]], tokens: list[int], done: set[int]) -> dict[str, Any]:
    layers, num_layers = settings["layers"], config.num_hidden_layers
    return {
        "format": FORMAT, "version": VERSION, "settings": settings,
        "complete": len(done) == len(plan),
        "hidden_size": config.hidden_size, "num_hidden_layers": num_layers,
        "layer_meaning": {str(layer): layer_meaning(layer, num_layers) for layer in layers},
        "tensors": {"input_ids": "(T,) int64", "loss_mask": "(T,) uint8, 1 on answer tokens and the final EOS",
                    "target_argmax": "(T,) int64, the target's greedy next token after each loss position, "
                                     "-1 elsewhere",
                    "offsets": "(n+1,) int64, conversation j = rows offsets[j]:offsets[j+1]",
                    **{hidden_key(layer): f"(T, {config.hidden_size}) {settings['save_dtype']}" for layer in layers}},
        "num_conversations": sum(len(ids) for ids in plan), "num_tokens": sum(tokens),
        "shards": [{"file": shard_name(s), "count": len(ids), "tokens": tokens[s], "ids": ids,
                    "done": s in done} for s, ids in enumerate(plan)],
    }


def dump(args: argparse.Namespace) -> dict[str, Any]:
    """Write (or finish) the dump described by args; returns the final index."""
    from model.common.zoo import load_tokenizer, resolve
    from transformers import AutoConfig

    for name in ("batch_size", "max_length", "shard_size", "world_size"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.rank < args.world_size:
        raise InputError(f"--rank must be in 0..{args.world_size - 1}, got {args.rank}")
    if args.save_dtype not in DTYPES:
        raise InputError(f"--save-dtype {args.save_dtype!r}: choose one of {sorted(DTYPES)}")
    data = Path(args.data)
    if not data.exists():
        raise InputError(f"--data {data} not found")
    raw = read_rows(data)[args.skip:][: args.limit]
    if not raw:
        raise InputError(f"--data {data} has no rows")
    config = AutoConfig.from_pretrained(resolve(args.target)).get_text_config()  # layers resolve before the slow load
    settings = {"target": args.target, "data": str(data.resolve()), "max_length": args.max_length,
                "shard_size": args.shard_size, "layers": parse_layers(args.layers, config.num_hidden_layers),
                "dtype": str(pick_dtype(pick_device(args.device), args.dtype)).removeprefix("torch."),
                "save_dtype": args.save_dtype, "answer_prefix": args.answer_prefix}
    if args.continuation is not None:  # recorded only when set: self-distilled dumps made before it still resume
        settings["continuation"] = args.continuation
    if args.skip:  # recorded only when set, as continuation
        settings["skip"] = args.skip

    tokenizer = load_tokenizer(args.target)
    if tokenizer.eos_token_id is None:
        raise InputError(f"the tokenizer of {args.target} has no EOS token; answers must end with one")
    rows = [tokenize_row(tokenizer, *conversation_pair(r, n, args.continuation), args.max_length, args.answer_prefix)
            for n, r in enumerate(raw, args.skip + 1)]
    ids = [prompt_of(r)[0] if args.continuation else str(r.get("id", n)) for n, r in enumerate(raw, args.skip + 1)]
    if len(set(ids)) != len(ids):
        raise InputError(f"--data {data} repeats conversation ids; each row needs a unique 'id'")
    plan = [ids[i: i + args.shard_size] for i in range(0, len(ids), args.shard_size)]
    tokens = [sum(len(r[0]) for r in rows[i: i + args.shard_size]) for i in range(0, len(rows), args.shard_size)]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f".rank-{args.rank}.lock", "w") as writer:  # one writer per rank and folder at a time
        lock_exclusively(writer, out / f"rank {args.rank}'s shards")
        return write_shards(args, out, settings, config, rows, plan, tokens)


def write_shards(args: argparse.Namespace, out: Path, settings: dict[str, Any], config, rows: list, plan: list[list[str]],
                 tokens: list[int]) -> dict[str, Any]:
    from model.common.zoo import load_model

    done = check_existing(out, settings, plan)
    # --rank r of --world-size w writes shards r, r + w, ...: one process per GPU, each with its own share
    todo = [s for s in range(len(plan)) if s not in done and s % args.world_size == args.rank]
    update_index(out, settings, config, plan, tokens)
    print(f"[multispec] {len(plan)} shards planned in {out}: {len(done)} done, {len(todo)} to write here"
          f"{f' (rank {args.rank} of {args.world_size})' if args.world_size > 1 else ''}", flush=True)
    if todo:
        device = args.device
        if device is None and args.world_size > 1 and torch.cuda.is_available():
            device = f"cuda:{args.rank % torch.cuda.device_count()}"
        model, tokenizer = load_model(args.target, dtype=args.dtype, device=device)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        save_dtype = DTYPES[args.save_dtype]
        bar = tqdm(total=sum(tokens[s] for s in todo), desc="hidden states", unit="tok", unit_scale=True)
        start = time.perf_counter()
        for s in todo:
            lo = s * args.shard_size
            tmp = out / ("." + shard_name(s) + ".tmp")
            dump_shard(model, rows[lo: lo + len(plan[s])], settings["layers"], args.batch_size, pad_id, save_dtype,
                       config.hidden_size, tmp, plan[s], bar)
            os.replace(tmp, out / shard_name(s))  # atomic: a crash never leaves a half shard under the final name
            update_index(out, settings, config, plan, tokens)  # lists what is on disk: other ranks' shards too
        bar.close()
        seconds = time.perf_counter() - start
        print(f"[multispec] {sum(tokens[s] for s in todo)} tokens in {seconds:.1f} s "
              f"({sum(tokens[s] for s in todo) / seconds:.1f} tokens/s)", flush=True)
    return json.loads((out / INDEX_NAME).read_text(encoding="utf-8"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True,
                        help="self-distilled ShareGPT JSONL (data_generation.generate), or prompt rows with --continuation")
    parser.add_argument("--out", required=True, help="dump folder (index.json + shards)")
    add_target_options(parser)
    parser.add_argument("--layers", nargs="+", default=[PRENORM],
                        help="HF hidden-state indices 0..L, 'prenorm', and/or 'eagle3' (EAGLE-3's three taps)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--shard-size", type=int, default=2000, help="conversations per shard")
    parser.add_argument("--skip", type=non_negative_int, default=0, help="leave out the first N rows of --data")
    parser.add_argument("--limit", type=int, default=None, help="first N rows of --data (after --skip)")
    parser.add_argument("--save-dtype", default="bfloat16", help="dtype of stored hidden states")
    parser.add_argument("--continuation", default=None, metavar="FIELD",
                        help="teacher forcing: the row field holding the text that follows each prompt (e.g. reference)")
    parser.add_argument("--answer-prefix", default="", help="text put before each answer (e.g. ' ' for stripped answers)")
    parser.add_argument("--rank", type=int, default=int(os.environ.get("RANK", 0)),
                        help="this process's share of the shards (default: $RANK, as torchrun/accelerate set it)")
    parser.add_argument("--world-size", type=int, default=int(os.environ.get("WORLD_SIZE", 1)),
                        help="processes splitting the shards (default: $WORLD_SIZE)")
    return parser


run = dump  # the stage entry point (multispec experiment): settings as the command line gives them


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return dump(build_parser().parse_args(argv))


if __name__ == "__main__":
    run_command(main)
