"""The one training loop (nanoGPT-straight, on accelerate): AdamW, warmup + cosine schedule, gradient
accumulation, mixed precision, resumable checkpoints, loss and lr logged. Runs under `python` on one
device and under `accelerate launch` on many (DDP / FSDP / DeepSpeed come from accelerate's config)."""
from __future__ import annotations

import dataclasses
import json
import os
from itertools import count
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import get_cosine_schedule_with_warmup

from data_processing.errors import InputError
from train.config import TrainConfig

STATE_DIR = "checkpoint"  # latest resumable state (model, optimizer, scheduler, RNG) under output_dir


class OutputDirInUse(InputError):
    """An output_dir that holds another run, or a checkpoint saved with other settings."""


def check_output_dir(cfg: TrainConfig, resume: bool) -> None:
    """Refuse to write over a run already in output_dir unless resuming it with the same settings (the stock
    recipes write to fixed folders: a rerun must not silently replace final/ and append a second log)."""
    out = Path(cfg.output_dir)
    held = [name for name in (STATE_DIR, "final", "log.jsonl") if (out / name).exists()]
    if held and not resume:
        raise OutputDirInUse(f"{out} already holds a run ({', '.join(held)}); pass --resume to continue it, "
                             "or output_dir=NEW_FOLDER to start another")
    if resume and (out / STATE_DIR / "config.json").exists():
        saved = json.loads((out / STATE_DIR / "config.json").read_text())
        if same_run(saved) != same_run(dataclasses.asdict(cfg)):  # e.g. another schedule length changes the lr curve
            raise OutputDirInUse(f"{out / STATE_DIR} was saved with another configuration ({saved}); "
                                 f"resume with the same settings or pick a new output_dir")


def train(cfg: TrainConfig, task, resume: bool = False) -> list[dict]:
    """Run cfg.steps optimizer steps; returns the logged records (also in output_dir/log.jsonl)."""
    check_output_dir(cfg, resume)
    # a multi-process launch on a machine without GPUs is DDP over gloo: accelerate joins the other processes on the
    # CPU only when told so (without it every process would train alone on all the data)
    cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    acc = Accelerator(cpu=cpu, gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision,
                      dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True))
    set_seed(cfg.seed)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = task.model()
    # workers read and pad the next batches while the device trains; pinned pages make the copy asynchronous
    loader = DataLoader(task.dataset(), batch_size=cfg.batch_size, shuffle=True, collate_fn=task.collate, drop_last=True,
                        num_workers=cfg.num_workers, pin_memory=torch.cuda.is_available(),
                        persistent_workers=cfg.num_workers > 0)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps, cfg.steps)
    model, optimizer, loader, schedule = acc.prepare(model, optimizer, loader, schedule)
    if len(loader) == 0:
        raise ValueError(f"not enough training rows for one batch of {cfg.batch_size} per process")

    step = 0
    if resume and (out / STATE_DIR).exists():
        acc.load_state(str(out / STATE_DIR))
        step = json.loads((out / STATE_DIR / "step.json").read_text())["step"]
    consumed = step * cfg.grad_accum  # micro-batches already seen by this process
    log: list[dict] = []
    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {cfg.task}", disable=not acc.is_main_process)
    model.train()
    for epoch in count(consumed // len(loader)):
        if step >= cfg.steps:
            break
        loader.set_epoch(epoch)  # reshuffle per epoch, reproducibly
        skip = consumed - epoch * len(loader) if epoch == consumed // len(loader) else 0
        for batch in acc.skip_first_batches(loader, skip) if skip > 0 else loader:
            batch = {k: v.to(params[0].dtype) if v.is_floating_point() else v for k, v in batch.items()}  # bf16 dumps
            # cross to the device at half the bytes and widen there
            with acc.accumulate(model):
                loss = task.loss(model, batch)
                acc.backward(loss)
                if acc.sync_gradients:
                    acc.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
            if not acc.sync_gradients:
                continue
            step += 1
            record = {"step": step, "loss": acc.gather(loss.detach()[None]).mean().item(), "lr": schedule.get_last_lr()[0]}
            log.append(record)
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}")
            if acc.is_main_process and (step % cfg.log_every == 0 or step == cfg.steps):
                with open(out / "log.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
            if step % cfg.save_every == 0 or step == cfg.steps:
                save_state(acc, cfg, out, step)
            if step >= cfg.steps:
                break
    bar.close()
    if acc.is_main_process:
        task.save(acc.unwrap_model(model), out / "final")
    acc.wait_for_everyone()
    return log


def same_run(settings: dict) -> dict:
    """The settings a resumed run must share with its checkpoint: all but how batches are read."""
    return {k: v for k, v in settings.items() if k != "num_workers"}


def save_state(acc: Accelerator, cfg: TrainConfig, out: Path, step: int) -> None:
    acc.save_state(str(out / STATE_DIR))
    if acc.is_main_process:
        (out / STATE_DIR / "step.json").write_text(json.dumps({"step": step}))
        (out / STATE_DIR / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    acc.wait_for_everyone()


