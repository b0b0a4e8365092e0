"""The run folder: where ``lerf3d train`` and every later stage keep their files, named once.

::

    RUN/
      checkpoints/   step-N.ckpt and the ``latest`` pointer (lerf3d.runs.checkpoint_file)
      eval/          held-out previews and metrics of training, localisation.json of ``lerf3d eval``
      fusion/        TSDF fusion: points.ply, bounds.json, mesh.ply, mesh.glb, preview.png
      features/      crop pyramids and DINO maps, when the capture has no features/ folder
      objects/       3D instances and their descriptors (lerf3d.objects)
      tensorboard/   training logs

A run is named by its folder or by one of its checkpoint files; :func:`open_run` accepts both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lerf3d.runs.checkpoint_file import latest_checkpoint

CHECKPOINTS_DIR = "checkpoints"
"""Sub-folder of a run holding the training checkpoints."""
EVAL_DIR = "eval"
"""Sub-folder of a run holding evaluation outputs."""
FUSION_DIR = "fusion"
"""Sub-folder of a run holding the TSDF fusion of its capture."""
FUSION_POINTS = "points.ply"
"""Fused surface points inside ``fusion/`` (they restore a trained field's occupancy grid)."""
FUSION_BOUNDS = "bounds.json"
"""Scene bounds inside ``fusion/``."""
FUSION_MESH = "mesh.ply"
"""The fused triangle mesh (Z-up, vertex colours) inside ``fusion/``."""
FEATURES_DIR = "features"
"""Feature cache folder, beside a capture or inside a run."""
OBJECTS_DIR = "objects"
"""Sub-folder of a run holding its 3D object instances."""
TENSORBOARD_DIR = "tensorboard"
"""Sub-folder of a run holding the training logs."""


@dataclass(frozen=True)
class Run:
    """A run folder and the places of its parts (which need not exist yet)."""

    root: Path
    """The run folder (``lerf3d train --out``)."""

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    @property
    def eval(self) -> Path:
        return self.root / EVAL_DIR

    @property
    def fusion(self) -> Path:
        return self.root / FUSION_DIR

    @property
    def fusion_points(self) -> Path:
        return self.root / FUSION_DIR / FUSION_POINTS

    @property
    def fusion_bounds(self) -> Path:
        return self.root / FUSION_DIR / FUSION_BOUNDS

    @property
    def fusion_mesh(self) -> Path:
        return self.root / FUSION_DIR / FUSION_MESH

    @property
    def features(self) -> Path:
        return self.root / FEATURES_DIR

    @property
    def objects(self) -> Path:
        return self.root / OBJECTS_DIR

    @property
    def tensorboard(self) -> Path:
        return self.root / TENSORBOARD_DIR

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint in ``checkpoints/`` (or, for a bare folder of checkpoints, in the
        folder itself); None when there is none."""
        return latest_checkpoint(self.checkpoints) or latest_checkpoint(self.root)


def run_of_checkpoint(checkpoint: str | Path) -> Run:
    """The run a checkpoint file belongs to (RUN/checkpoints/step-N.ckpt -> RUN)."""
    checkpoint = Path(checkpoint)
    parent = checkpoint.parent
    return Run(parent.parent if parent.name == CHECKPOINTS_DIR else parent)


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint file ``path`` names (a run folder means its latest checkpoint)."""
    path = Path(path)
    if path.is_dir():
        found = Run(path).latest_checkpoint()
        if found is None:
            raise FileNotFoundError(f"{path}: no checkpoint in it or in its {CHECKPOINTS_DIR}/ folder")
        return found
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    return path


def open_run(path: str | Path) -> tuple[Run, Path]:
    """The run a folder or checkpoint file names, and the checkpoint to read (its latest, for a folder)."""
    checkpoint = resolve_checkpoint(path)
    return run_of_checkpoint(checkpoint), checkpoint


def features_folder(run: Run, capture: str | Path | None) -> Path:
    """Where a run's features are: ``CAPTURE/features`` when that folder exists, else ``RUN/features``."""
    if capture is not None and (Path(capture) / FEATURES_DIR).is_dir():
        return Path(capture) / FEATURES_DIR
    return run.features
