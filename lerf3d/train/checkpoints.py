"""What a training checkpoint adds to the run's checkpoint files: when they are written, and every
RNG state, so that resuming from one continues the run as if it had never stopped.

The file format (``step-N.ckpt``, the ``latest`` pointer, atomic writes) is
:mod:`lerf3d.runs.checkpoint_file`'s. A checkpoint holds the config, the step, model, optimiser and
scheduler states and the torch, CUDA, numpy, Python and named-generator RNG states.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lerf3d.runs.checkpoint_file import CheckpointError


@dataclass(frozen=True)
class CheckpointConfig:
    """When checkpoints are written and how many are kept."""

    every: int = 1000
    """Steps between checkpoints (the last step is always saved)."""
    keep: int = 3
    """Newest checkpoints kept on disk; older ones are deleted after a successful write."""
    save_on_interrupt: bool = True
    """Write a checkpoint of the last finished step when training is interrupted (Ctrl-C)."""

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"checkpoint every must be >= 1 steps, got {self.every}")
        if self.keep < 1:
            raise ValueError(f"checkpoint keep must be >= 1, got {self.keep}")


def capture_rng_states(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    """Global torch/CUDA/numpy/Python RNG states and those of the named generators."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
        "generators": {name: gen.get_state() for name, gen in generators.items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_states(state: dict[str, Any], generators: dict[str, torch.Generator]) -> None:
    """Put back what :func:`capture_rng_states` recorded (named generators must all be present)."""
    missing = sorted(set(generators) - set(state["generators"]))
    if missing:
        raise CheckpointError(f"checkpoint has no state for generator(s) {missing}")
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    random.setstate(_as_tuples(state["python"]))
    for name, gen in generators.items():
        gen.set_state(state["generators"][name])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value: Any) -> Any:
    """random.setstate wants nested tuples; a round trip may have turned them into lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
