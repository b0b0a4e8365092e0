"""The field-training checkpoint file format of a run's ``checkpoints/`` folder.

``step-000200.ckpt`` files (torch.save of plain data and tensors, read back with
``weights_only=True`` so a checkpoint cannot run code) and a text file ``latest`` naming the newest
one. Both are written under a temporary name, flushed to disk and renamed into place, so a crash
or Ctrl-C at any moment leaves the previous checkpoint and pointer intact. The trainer writes them
(with every RNG state, :mod:`lerf3d.train.checkpoints`); every reader of a run opens them here.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from lerf3d.atomic import atomic_path

CHECKPOINT_FORMAT = "lerf3d-train-checkpoint/1"
"""Tag stored in every checkpoint; bump when the payload layout changes."""
LATEST_NAME = "latest"
"""Name of the pointer file holding the newest checkpoint's file name."""
CHECKPOINT_PATTERN = re.compile(r"^step-(\d+)\.ckpt$")


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or does not belong to this run."""


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Everything needed to continue a run."""

    step: int
    """Optimisation steps completed."""
    config: dict[str, Any]
    """The run's TrainConfig as plain data (``presets.to_plain``)."""
    model: dict[str, torch.Tensor]
    """Model state dict."""
    optimisers: dict[str, Any]
    """``Optimisers.state_dict()``: optimiser and scheduler states."""
    rng: dict[str, Any]
    """``lerf3d.train.checkpoints.capture_rng_states`` output."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Provenance checked on resume: training frame names, encoder names, bounds."""


def checkpoint_path(directory: Path, step: int) -> Path:
    return Path(directory) / f"step-{step:06d}.ckpt"


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest step first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(checkpoint: Checkpoint, directory: Path, keep: int = 3) -> Path:
    """Write ``checkpoint`` atomically, point ``latest`` at it, then prune all but the newest ``keep``."""
    path = checkpoint_path(directory, checkpoint.step)
    payload = {"format": CHECKPOINT_FORMAT, **vars(checkpoint)}
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes reach the disk before the rename makes them visible
        with atomic_path(Path(directory) / LATEST_NAME) as tmp:
            tmp.write_text(path.name + "\n")
    except OSError as err:  # disk full, quota, permissions: the previous checkpoint and pointer stand
        previous = latest_checkpoint(directory)
        kept = f"{previous} is intact (resume from it with --resume)" if previous else "none was written before"
        raise CheckpointError(f"could not write checkpoint {path} ({err.strerror or err}); {kept}") from None
    for old in list_checkpoints(directory)[:-keep]:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def latest_checkpoint(directory: Path) -> Path | None:
    """The checkpoint ``latest`` names, else the highest step present, else None."""
    directory = Path(directory)
    pointer = directory / LATEST_NAME
    if pointer.is_file():
        target = directory / pointer.read_text().strip()
        if target.is_file():
            return target
    found = list_checkpoints(directory)
    return found[-1] if found else None


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, pickle/zip errors, EOFError for damaged files
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a lerf3d training checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    payload.pop("format")
    _check_payload(payload, path)
    return Checkpoint(**payload)


PAYLOAD_TYPES = {"step": int, "config": dict, "model": dict, "optimisers": dict, "rng": dict, "meta": dict}
"""Type of each field of a checkpoint's payload (:class:`Checkpoint`)."""
RNG_KEYS = ("torch", "numpy", "python", "generators")
"""Entries of a checkpoint's ``rng`` (:func:`capture_rng_states`; ``cuda`` only where recorded)."""


def _check_payload(payload: dict[str, Any], path: Path) -> None:
    """CheckpointError naming ``path`` unless the payload has every field of a Checkpoint, of its type."""
    required = {f.name for f in fields(Checkpoint) if f.name != "meta"}  # meta has a default
    missing, unknown = sorted(required - set(payload)), sorted(set(payload) - set(PAYLOAD_TYPES))
    if missing:
        raise CheckpointError(f"{path}: damaged checkpoint, it has no {missing}")
    if unknown:
        raise CheckpointError(f"{path}: checkpoint fields {unknown} are unknown to this lerf3d")
    for name, value in payload.items():
        if not isinstance(value, PAYLOAD_TYPES[name]) or isinstance(value, bool):
            raise CheckpointError(f"{path}: damaged checkpoint, {name} is a {type(value).__name__}, "
                                  f"expected a {PAYLOAD_TYPES[name].__name__}")
    bad = [k for k, v in payload["model"].items() if not isinstance(v, torch.Tensor)]
    missing = [k for k in RNG_KEYS if k not in payload["rng"]]
    if bad or missing:
        raise CheckpointError(f"{path}: damaged checkpoint, model entries {bad[:3]} are no tensors"
                              if bad else f"{path}: damaged checkpoint, rng lacks {missing}")


@contextlib.contextmanager
def applying(path: Path) -> Iterator[None]:
    """Errors of putting a checkpoint's contents into a model, optimiser or RNG (missing or misshapen
    weights, a config that no longer parses) as a CheckpointError naming ``path``."""
    try:
        yield
    except CheckpointError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
        problem = " ".join(str(err).split())  # torch lists missing weights on several lines
        raise CheckpointError(f"{path}: does not fit this model ({type(err).__name__}: {problem})") from None
