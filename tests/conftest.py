"""Shared fixtures: tiny random targets, and the real embedded target loaded once per session."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
# one process: up to 2 threads; under pytest-xdist (-n N) the cores are shared among the workers instead
workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // workers)))


@pytest.fixture(scope="session")
def gemma_fp32():
    """The embedded Gemma 3 270M in float32 (lossless tests demand exact equality) and its tokenizer."""
    from model.common.zoo import load_model

    return load_model("gemma-3-270m", dtype="float32", device="cpu")
