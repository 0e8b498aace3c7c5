"""int8 models on CPU through PyTorch's dynamic quantization: Linear weights stored as int8, activations
quantized on the fly per batch. Embeddings stay float32 (a Gemma LM head tied to them becomes a
separate int8 Linear). Quantizing the target changes the target: compare against its own `ar`."""
from __future__ import annotations

import warnings

import torch
from torch import nn


def int8_dynamic(model: nn.Module) -> nn.Module:
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    if device.type != "cpu" or dtype != torch.float32:
        raise ValueError(f"int8 dynamic quantization runs on CPU from float32 weights; this model is {dtype} on "
                         f"{device}: pass --dtype float32 --device cpu")
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch.ao announces its move to torchao; the API still works
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
