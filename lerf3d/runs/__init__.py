"""lerf3d.runs: the run folder, owned in one place.

- :mod:`~lerf3d.runs.layout`: the folder's layout (checkpoints/, eval/, fusion/, features/,
  objects/, tensorboard/), :class:`Run`, :func:`open_run` and the latest checkpoint
- :mod:`~lerf3d.runs.checkpoint_file`: the checkpoint file format (atomic writes, ``latest`` pointer)
- :mod:`~lerf3d.runs.field`: what a run recorded: the trained field, its feature settings and encoders

Training writes runs; query, objects, the scene LLM and the viewer read them through this package,
never through the trainer.
"""

from lerf3d.runs.checkpoint_file import (
    Checkpoint,
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from lerf3d.runs.field import RecordedEncoders, load_trained_field, recorded_encoders, recorded_features
from lerf3d.runs.layout import Run, features_folder, open_run, resolve_checkpoint, run_of_checkpoint

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "RecordedEncoders",
    "Run",
    "features_folder",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_trained_field",
    "open_run",
    "recorded_encoders",
    "recorded_features",
    "resolve_checkpoint",
    "run_of_checkpoint",
    "save_checkpoint",
]
