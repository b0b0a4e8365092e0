"""Checks a command makes on its arguments before it loads a model or writes a file.

A mistake found after minutes of loading or rendering wastes the minutes and may leave files behind,
so commands check output paths, counts and sizes first. The ``*_arg`` functions are argparse types
(the parser reports a bad value at once, with usage); :func:`check_output_path` raises ValueError
naming the argument, the path and the problem; :func:`training_device` turns ``--device`` into a
device, an error when the GPU asked for is not there.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def check_output_path(path: str | os.PathLike, what: str = "--out", folder: bool = False) -> Path:
    """``path`` as a Path once it is clear the command can create it: not an existing folder when a
    file is wanted (``folder=False``) or an existing file when a folder is, and its nearest existing
    ancestor a folder this process may write in (the usual mistake: a path below a regular file)."""
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path}: is a file, not a folder")
    if not folder and path.is_dir():
        raise ValueError(f"{what} {path}: is a folder, not a file")
    ancestor = path if folder and path.is_dir() else path.parent
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{what} {path}: {ancestor} is a file, so no folder can be made below it")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: {ancestor} is not writable")
    return path


def _int_at_least(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least {lowest}")
    return value


def positive_int_arg(text: str) -> int:
    """argparse type: an integer >= 1 (counts of frames, views, steps, tokens)."""
    return _int_at_least(text, 1)


def non_negative_int_arg(text: str) -> int:
    """argparse type: an integer >= 0 (a count where 0 turns something off)."""
    return _int_at_least(text, 0)


def positive_float_arg(text: str) -> float:
    """argparse type: a finite number > 0 (frame rates, scales, voxel sizes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def training_device(choice: str, local_rank: int = 0) -> torch.device:
    """``auto``: this process's GPU when torch sees one, else the CPU; ``cuda`` without a GPU is a
    clear error rather than a silent CPU run."""
    import torch  # here, so the path checks above stay free of torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: torch sees no CUDA device (use --device cpu or auto)")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device(f"cuda:{local_rank}")
