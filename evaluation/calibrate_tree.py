"""Pick the static draft tree for trained Medusa, Hydra or EAGLE heads from their accuracy on held-apart data.

    python -m evaluation.calibrate_tree --task medusa --head outputs/medusa/de/final --features data/features/de \
        --skip 8500 [--limit 500] [--total 60] [--top-k 10] [--target gemma-3-270m] --out outputs/medusa/de/tree.json

Per head k and rank r it measures how often the head's rank-r token is the target's own next token
(teacher-forced, answer positions only; for Hydra that is the accuracy given a correct path above),
prints that table, and writes the `--total` rank paths with the highest product of accuracies along
the path (model.common.static_tree.best_tree) as JSON, for `--tree` of medusa / hydra / eagle. EAGLE
has one net that drafts every depth: its row for depth d is measured by drafting d levels from every
position, each level reading the net's own predicted feature (train.tasks.eagle's unrolled levels). For EAGLE-type
heads it also replays greedy top-1 chains of that depth on the held-apart answers (`chain_walk`): the mean accepted
tokens per step that the per-depth accuracy implies, which decoding with a chain of that depth should approach.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from evaluation.tables import markdown_table
from model.common.static_tree import best_tree
from train.tasks import build_task
from multispec.options import add_target_options


@torch.inference_mode()
def rank_accuracy(task, model, batch_size: int, top_k: int) -> tuple[list[list[float]], list[int]]:
    """acc[k][r]: share of positions where head k+1's rank-r token is the target's; and positions per head.
    A position whose token is outside the heads' draft vocabulary counts as a miss at every rank, as in drafting (so
    heads with other vocabularies are scored on the same positions)."""
    hits: list[torch.Tensor] | None = None
    counts: list[int] = []
    task.data.keep_outside = True
    vocab = task.data.vocab
    loader = DataLoader(task.dataset(), batch_size=batch_size, collate_fn=task.collate)
    for batch in tqdm(loader, desc="calibrate"):
        pairs = task.per_head(model, batch)
        if hits is None:
            hits, counts = [torch.zeros(top_k) for _ in pairs], [0] * len(pairs)
        for k, (all_logits, all_labels) in enumerate(pairs):
            counts[k] += len(all_labels)  # every position, those the head cannot name included
            logits, labels = all_logits, all_labels
            if vocab is not None:
                inside = all_labels != vocab.unknown
                logits, labels = all_logits[inside], all_labels[inside]
            rank = (logits > logits.gather(1, labels[:, None])).sum(dim=1)  # (n,) 0 = the head's top token
            hits[k] += torch.bincount(rank[rank < top_k], minlength=top_k).float()
    if hits is None:
        raise ValueError("no held-apart conversations to calibrate on")
    return [(h / max(n, 1)).tolist() for h, n in zip(hits, counts)], counts


def chain_walk(hits: list[list[bool]]) -> tuple[int, int]:
    """Greedy chain drafting replayed on one answer: hits[j][i] says whether draft level j+1 from the answer's
    i-th anchor names the target's token. A step accepts the leading levels that are right, plus the target's own
    token, and the next step starts after them. Returns (steps, steps whose first draft token was accepted)."""
    steps = first = i = 0
    while i < len(hits[0]):
        accepted = 0
        while accepted < len(hits) and hits[accepted][i]:
            accepted += 1
        steps, first, i = steps + 1, first + (accepted > 0), i + accepted + 1
    return steps, first


@torch.inference_mode()
def replayed_chains(task, model, batch_size: int) -> dict[str, float]:
    """Mean accepted tokens of greedy top-1 chains as deep as the task's unrolled levels, replayed on the held-apart
    answers (chain_walk). Lower than the per-depth top-1 suggests: a step starts where the last draft failed, at a
    harder token; decoding with the CPU trees lands near it (experiments/tree_sizes_shipped)."""
    anchors = steps = first = 0
    loader = DataLoader(task.dataset(), batch_size=batch_size, collate_fn=task.collate)
    for batch in tqdm(loader, desc="chains"):
        hits, answer = task.chain_correctness(model, batch)
        for row_hits, row_answer in zip(hits.tolist(), answer):
            where = row_answer.nonzero().flatten().tolist()
            if where:
                n, f = chain_walk([level[where[0]: where[-1] + 1] for level in row_hits])
                anchors, steps, first = anchors + len(where), steps + n, first + f
    return {"depth": task.unroll, "mat": anchors / max(steps, 1), "first_accepted": first / max(steps, 1)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=["medusa", "hydra", "eagle", "eagle3"], required=True)
    parser.add_argument("--head", required=True, help="trained heads' folder")
    parser.add_argument("--features", required=True, help="hidden-state dump (held-apart part chosen by --skip/--limit)")
    parser.add_argument("--skip", type=int, default=0, help="conversations the heads were trained on (-N: the last N are held apart)")
    parser.add_argument("--limit", type=int, default=None)
    add_target_options(parser, dtype=False, device=False)
    parser.add_argument("--total", type=int, default=60, help="tree nodes")
    parser.add_argument("--top-k", type=int, default=10, help="ranks considered per head")
    parser.add_argument("--depth", type=int, default=6, help="eagle: tree depth (draft levels measured)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", required=True)
    parser.add_argument("--accuracy-out", default=None,
                        help="also write the table as JSON: {positions: [...], rank_accuracy: [[head 1 ranks], ...]}")
    return parser


def run(args: argparse.Namespace) -> None:
    levels = {"unroll": args.depth} if args.task.startswith("eagle") else {}  # EAGLE drafts every depth with one net
    task = build_task(args.task, {"data": args.features, "target": args.target, "init_from": args.head,
                                  "skip": args.skip, "limit": args.limit, **levels})
    model = task.model().eval()
    acc, counts = rank_accuracy(task, model, args.batch_size, args.top_k)
    rows = [[f"head {k + 1}", str(n), *(f"{a:.3f}" for a in row)] for k, (row, n) in enumerate(zip(acc, counts))]
    print(markdown_table(["head", "positions", *(f"rank {r}" for r in range(args.top_k))], rows))
    tree = best_tree(acc, args.total)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps([list(path) for path in tree]) + "\n")
    print(f"{len(tree)} nodes, depth {max(map(len, tree))} -> {args.out}")
    chains = replayed_chains(task, model, args.batch_size) if hasattr(task, "chain_correctness") else None
    if chains:
        print(f"greedy top-1 chains of depth {chains['depth']} replayed on these answers: MAT {chains['mat']:.2f}, "
              f"first draft token accepted in {chains['first_accepted']:.2f} of the steps")
    if args.accuracy_out:
        Path(args.accuracy_out).write_text(json.dumps({"held_apart": {"features": args.features, "skip": args.skip,
                                                                     "limit": args.limit},
                                                      "positions": counts, "rank_accuracy": acc,
                                                      **({"replayed_chains": chains} if chains else {})}) + "\n")


def main(argv: list[str] | None = None) -> None:
    run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
