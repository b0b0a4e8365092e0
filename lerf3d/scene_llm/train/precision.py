"""Frozen weights stored at the precision autocast computes with, for the length of a training stage.

Under bfloat16 autocast every linear layer casts its float32 weight to bfloat16 on each call; CPU
autocast keeps no cast copy of a weight that does not train, so a frozen LLM's weights (stage 1,
and the base weights under LoRA in stage 2) are converted again on every forward pass. Holding those
weights in bfloat16 for the stage gives the layers the very values autocast would have made (a cast
of a bfloat16 tensor to bfloat16 is itself), so the losses and gradients are the same, without the
per-step conversion and its float32 reads. The float32 weights are put back when the stage ends, so
a later stage (LoRA initialised against the base layer's dtype, full fine-tuning) and anything saved
see the model as loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def frozen_linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The linear layers of ``model`` whose float32 weight does not train and is not shared with a
    module of another kind (a tied output layer shares the input embedding's table, which is looked up,
    not multiplied, and must keep its precision)."""
    shared = {id(p) for m in model.modules() if not isinstance(m, nn.Linear)
              for p in m.parameters(recurse=False)}
    return [m for m in model.modules()
            if isinstance(m, nn.Linear) and not m.weight.requires_grad and m.weight.dtype == torch.float32
            and id(m.weight) not in shared]


@contextmanager
def autocast_weights(model: nn.Module, enabled: bool) -> Iterator[int]:
    """Within the block, the weights of :func:`frozen_linear_layers` are held in bfloat16 (when
    ``enabled``: the stage runs under bfloat16 autocast); yields how many layers were converted and
    restores the float32 weights on exit, error or not."""
    layers = frozen_linear_layers(model) if enabled else []
    originals = [layer.weight for layer in layers]
    for layer, weight in zip(layers, originals, strict=True):
        layer.weight = nn.Parameter(weight.detach().to(torch.bfloat16), requires_grad=False)
    try:
        yield len(layers)
    finally:
        for layer, weight in zip(layers, originals, strict=True):
            layer.weight = weight
