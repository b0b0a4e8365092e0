"""Reading files that ``torch.save`` wrote, with an error that names the file.

``torch.load`` reports a truncated or foreign file as a pickling or zip error ("Unsupported operand
110", "PytorchStreamReader failed reading zip archive") that does not say which of a run's files it
was reading. The encoder, tower and Scene-LLM loaders read through :func:`load_torch_file`; field
training checkpoints raise their own ``CheckpointError`` the same way (``lerf3d.runs.checkpoint_file``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_UNPICKLER_REASON = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\n\s*\n|$)", re.S)
"""The reason inside torch's long "Weights only load failed" message ("Unsupported operand 110")."""


class UnreadableFileError(ValueError):
    """A file that exists but is not a readable ``torch.save`` file (damaged, truncated, another format)."""


def load_torch_file(path: str | os.PathLike, what: str, map_location: object = "cpu") -> object:
    """The object saved at ``path`` (tensors only: ``weights_only``), onto ``map_location``.

    ``what`` names the kind of file in the errors ("projector checkpoint", "scene features"):
    FileNotFoundError when there is none, :class:`UnreadableFileError` naming the path and torch's
    reason when it cannot be read."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, pickle and zip errors, EOFError for damaged files
        found = _UNPICKLER_REASON.search(str(err))
        reason = " ".join((found[1] if found else str(err)).split())[:200]
        raise UnreadableFileError(f"{path}: unreadable {what} ({type(err).__name__}: {reason})") from err
