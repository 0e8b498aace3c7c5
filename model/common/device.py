"""Device and dtype choice, made once per run from what the machine offers (never at import)."""
from __future__ import annotations

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


def pick_dtype(device: torch.device, requested: str | None = None) -> torch.dtype:
    """bfloat16 where the hardware runs it natively, float32 otherwise; an explicit request wins."""
    if requested and requested != "auto":
        if requested not in DTYPES:
            raise ValueError(f"unknown dtype {requested!r}; choose one of {sorted(DTYPES)} or 'auto'")
        return DTYPES[requested]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else torch.float32


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so wall-clock readings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
