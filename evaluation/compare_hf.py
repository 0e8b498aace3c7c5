"""Our loop against the HF implementations of the same methods, side by side in one run.

    python -m evaluation.compare_hf --questions Q.jsonl [--target gemma-3-270m] [--drafter PATH --gamma 5]
        [--methods ar pld sd] [--limit 10] [--max-new-tokens 128] [--dtype auto]

Pairs: our `ar` vs HF greedy `generate`; our `sd` vs HF assisted generation with the same draft model
(fixed gamma, confidence threshold off); our `pld` vs HF prompt lookup (same n-gram and draft sizes).
For each pair: tokens/s of both and their ratio, MAT of both (HF's tokens per step counted with a
streamer), how often the two emitted identical tokens, and our per-step overhead outside model forwards.
The engines' order rotates from question to question so a drifting machine hits all of them alike.

Generation stops on EOS and --max-new-tokens only, not on the benchmarks' stop strings: HF's
assisted and prompt-lookup decoding keep every token of an accepted step past a stop string, and
HF re-indexes the whole vocabulary for stop strings on every call (seconds for Gemma's 262k tokens),
so with stop strings the two sides would neither emit the same tokens nor pay the same fixed cost.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import torch
from tqdm import tqdm
from transformers.generation.streamers import BaseStreamer

from evaluation.tables import dict_table
from model.common.device import synchronize
from model.common.loop import GenerationConfig, generate
from model.common.target import Target
from multispec.options import add_generation_options, add_target_options


@dataclass
class Totals:
    seconds: float = 0.0
    tokens: int = 0
    steps: int = 0
    model_seconds: float = 0.0  # inside the target's forward (ours only)
    draft_seconds: float = 0.0  # inside drafter propose/update (ours only)
    outputs: list[list[int]] = field(default_factory=list)

    def add(self, seconds: float, tokens: list[int], steps: int, model: float = 0.0, draft: float = 0.0) -> None:
        self.seconds += seconds
        self.tokens += len(tokens)
        self.steps += steps
        self.model_seconds += model
        self.draft_seconds += draft
        self.outputs.append(tokens)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def mat(self) -> float:
        return self.tokens / self.steps


class StepCounter(BaseStreamer):
    """Counts the tokens HF hands to the streamer at each decoding step (the first put is the prompt)."""

    def __init__(self):
        self.sizes: list[int] = []
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if self.prompt_seen:
            self.sizes.append(int(value.numel()))
        self.prompt_seen = True

    def end(self) -> None:
        pass


@contextmanager
def forward_timer(model: torch.nn.Module) -> Iterator[list[float]]:
    """Accumulates wall time spent inside model.forward (hooks; the model code is untouched)."""
    spent = [0.0]
    starts: list[float] = []

    def pre(*_):
        synchronize(model.device)
        starts.append(time.perf_counter())

    def post(*_):
        synchronize(model.device)
        spent[0] += time.perf_counter() - starts.pop()

    handles = [model.register_forward_pre_hook(pre), model.register_forward_hook(post)]
    try:
        yield spent
    finally:
        for h in handles:
            h.remove()


Engine = Callable[[list[int], GenerationConfig, Totals], None]


def hf_engine(model, tokenizer, **method_kwargs) -> Engine:
    """HF generate with the given method arguments; stops like ours (EOS, max_new_tokens, stop strings)."""

    pad = tokenizer.pad_token_id if tokenizer is not None else model.generation_config.pad_token_id

    def run(ids: list[int], cfg: GenerationConfig, totals: Totals) -> None:
        counter = StepCounter()
        kwargs = dict(max_new_tokens=cfg.max_new_tokens, do_sample=False, top_p=None, top_k=None, temperature=None,
                      eos_token_id=list(cfg.eos_token_ids) or None, pad_token_id=pad,
                      streamer=counter, **method_kwargs)
        if cfg.stop_strings:
            kwargs.update(stop_strings=list(cfg.stop_strings), tokenizer=tokenizer)
        synchronize(model.device)
        start = time.perf_counter()
        out = model.generate(torch.tensor([ids], device=model.device), **kwargs)
        synchronize(model.device)
        seconds = time.perf_counter() - start
        totals.add(seconds, out[0, len(ids):].tolist(), len(counter.sizes))

    return run


def our_engine(target: Target, drafter, tokenizer) -> Engine:
    def run(ids: list[int], cfg: GenerationConfig, totals: Totals) -> None:
        with forward_timer(target.model) as spent:
            gen = generate(ids, target, drafter, replace(cfg, profile=True), tokenizer)
        totals.add(gen.wall_time, gen.tokens, gen.steps, spent[0], gen.stats.draft_time)

    return run


def hf_method_kwargs(method: str, drafter_model=None, gamma: int = 5, pld_ngram: int = 3, pld_draft: int = 10) -> dict:
    """HF generate arguments that make HF run the same method as ours."""
    if method == "ar":
        return {}
    if method == "sd":
        return dict(assistant_model=drafter_model, num_assistant_tokens=gamma,
                    num_assistant_tokens_schedule="constant", assistant_confidence_threshold=0.0)
    if method == "pld":
        return dict(prompt_lookup_num_tokens=pld_draft, max_matching_ngram_size=pld_ngram)
    raise ValueError(f"no HF counterpart for method {method!r}; compare_hf knows ar, sd, pld")


def compare(engines: dict[str, Engine], prompts: list[tuple[list[int], GenerationConfig]]) -> dict[str, Totals]:
    """Run every engine on every prompt, rotating their order per prompt."""
    names = list(engines)
    totals = {name: Totals() for name in names}
    for i, (ids, cfg) in enumerate(tqdm(prompts, desc="ours vs HF")):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            engines[name](ids, cfg, totals[name])
    return totals


def summarize(totals: dict[str, Totals], methods: list[str]) -> list[dict]:
    """One row per method: ours and HF's tokens/s and MAT, their ratio, identical outputs, our overhead."""
    rows = []
    for method in methods:
        ours, hf = totals[method], totals[f"hf_{method}"]
        overhead = ours.seconds - ours.model_seconds - ours.draft_seconds
        rows.append({
            "method": method,
            "ours_tokens_per_s": ours.tokens_per_s,
            "hf_tokens_per_s": hf.tokens_per_s,
            "ours_over_hf": ours.tokens_per_s / hf.tokens_per_s,
            "ours_mat": ours.mat,
            "hf_mat": hf.mat,
            "identical_outputs": sum(a == b for a, b in zip(ours.outputs, hf.outputs)) / len(ours.outputs),
            "overhead_ms_per_step": 1000 * overhead / ours.steps,
            "overhead_share": overhead / ours.seconds,
        })
    return rows


def build_engines(target: Target, tokenizer, methods: list[str], drafter_model=None, gamma: int = 5) -> dict[str, Engine]:
    from model.common.accept import AcceptConfig
    from model.pld.drafter import Config as PldConfig
    from model.registry import build_drafter
    from model.sd.drafter import Config as SdConfig
    from model.sd.drafter import DraftModelDrafter

    pld = PldConfig()
    engines: dict[str, Engine] = {}
    for method in methods:
        if method == "sd":
            if drafter_model is None:
                raise ValueError("comparing sd needs --drafter")
            drafter = DraftModelDrafter(drafter_model, SdConfig(gamma=gamma), AcceptConfig(), None)
        else:
            drafter = build_drafter(method, target, {}, accept=AcceptConfig())
        engines[method] = our_engine(target, drafter, tokenizer)
        engines[f"hf_{method}"] = hf_engine(target.model, tokenizer, **hf_method_kwargs(
            method, drafter_model, gamma, pld.max_ngram, pld.num_draft))
    return engines


def main(argv: list[str] | None = None) -> None:
    from data_processing.questions import load_questions
    from evaluation.session import Session
    from model.common.zoo import check_same_tokenizer, load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", required=True)
    add_target_options(parser, device=False)
    add_generation_options(parser)
    parser.add_argument("--drafter", default=None, help="draft model for the sd pair")
    parser.add_argument("--gamma", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=None, help="default: ar pld (and sd with --drafter)")
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args(argv)

    methods = args.methods or (["ar", "pld"] + (["sd"] if args.drafter else []))
    session = Session(args.target, dtype=args.dtype, chat_template=args.chat_template)
    target, tokenizer = session.target, session.tokenizer
    drafter_model = None
    if args.drafter:
        drafter_model, drafter_tokenizer = load_model(args.drafter, dtype=str(target.dtype).removeprefix("torch."))
        check_same_tokenizer(tokenizer, drafter_tokenizer)
    engines = build_engines(target, tokenizer, methods, drafter_model, args.gamma)
    # HF's generate has no stop strings: every engine runs to EOS or the length limit on the same prompts
    prompts = [
        (session.prompt(q["turns"][:1], [], q["category"]).ids,
         GenerationConfig(max_new_tokens=args.max_new_tokens, eos_token_ids=session.eos))
        for q in load_questions(args.questions)[: args.limit]
    ]
    compare(engines, prompts[:1])  # warm-up, discarded
    rows = summarize(compare(engines, prompts), methods)
    print(f"{args.target} on {target.device} in {target.dtype}, {torch.get_num_threads()} threads, "
          f"{len(prompts)} questions from {args.questions}")
    print(dict_table(rows))


if __name__ == "__main__":
    main()
