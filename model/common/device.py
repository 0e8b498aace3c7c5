"""Device and dtype choice, made once per run from what the machine offers (never at import)."""
from __future__ import annotations

import sys

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA when present, CPU otherwise; an explicit request wins."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bfloat16 matmuls (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


# model families whose activations overflow float16 (Gemma's residual stream reaches ~1e5): float32 instead
FP16_OVERFLOW = ("gemma",)


def native_bf16(device: torch.device) -> bool:
    """bfloat16 matmuls in hardware: NVIDIA from Ampere (compute capability 8.0), CPUs with AVX512-BF16 or AMX.
    Where bf16 is only emulated it is slower than float16 or float32, so it is never chosen there."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return device.type == "cpu" and cpu_supports_bf16()


def pick_dtype(device: torch.device, requested: str | None = None, model_type: str | None = None) -> torch.dtype:
    """bfloat16 where the hardware runs it natively; on older GPUs float16, except for model families known to
    overflow in it (float32, with the reason printed); float32 on other CPUs. An explicit request wins."""
    if requested and requested != "auto":
        if requested not in DTYPES:
            raise ValueError(f"unknown dtype {requested!r}; choose one of {sorted(DTYPES)} or 'auto'")
        return DTYPES[requested]
    if native_bf16(device):
        return torch.bfloat16
    if device.type == "cuda":
        if model_type and model_type.startswith(FP16_OVERFLOW):
            print(f"[multispec] float32: this GPU has no native bfloat16 and {model_type} models overflow in float16",
                  file=sys.stderr, flush=True)
            return torch.float32
        return torch.float16
    return torch.float32


def pick_draft_dtype(target_dtype: torch.dtype, device: torch.device, requested: str | None = None) -> torch.dtype:
    """The dtype drafters and heads compute in: the target's (auto), or an explicit request.

    Side by side next to the embedded target in bf16 on a CPU (experiments/draft_dtype), float32 heads and drafter
    accepted as many tokens as bf16 ones (MAT within 0.015 for every shipped head) and ran 2-14 % slower end to end."""
    if requested and requested != "auto":
        return pick_dtype(device, requested)
    return target_dtype


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so wall-clock readings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
