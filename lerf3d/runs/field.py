"""What a run recorded about its trained field: the field itself, its feature settings and the
encoders its language targets came from. Every stage after training reads them here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lerf3d.features.extractor import FeatureExtractorConfig
from lerf3d.field.model import LerfField, LerfFieldConfig
from lerf3d.field.occupancy import OCCUPANCY_VOXEL, OccupancyGrid
from lerf3d.runs.checkpoint_file import Checkpoint, applying, load_checkpoint
from lerf3d.typed_config import from_mapping
from lerf3d.types import PointSet, SceneBounds


@dataclass(frozen=True)
class RecordedEncoders:
    """The encoder names a checkpoint records (``SPEC`` or ``SPEC#weight-digest``)."""

    image_text: str | None
    """Image-text encoder of the crop pyramids; None in a checkpoint without language."""
    dense: str | None
    """Dense (DINO) encoder; None when the run trained without DINO targets."""


def recorded_encoders(checkpoint: Checkpoint) -> RecordedEncoders:
    """The encoders ``checkpoint``'s training features came from."""
    return RecordedEncoders(checkpoint.meta.get("image_text_encoder"), checkpoint.meta.get("dense_encoder"))


def recorded_features(checkpoint: Checkpoint, source: str = "checkpoint") -> FeatureExtractorConfig:
    """The feature settings (crop pyramid) the run trained with; the defaults for a checkpoint that
    records no config."""
    return from_mapping(FeatureExtractorConfig, checkpoint.config.get("features", {}), source=source,
                        prefix="features")


def load_trained_field(
    path: Path, device: torch.device | str = "cpu", points: PointSet | None = None
) -> tuple[LerfField, Checkpoint]:
    """The LerfField saved in checkpoint ``path`` (eval mode, on ``device``) and the checkpoint.

    ``points`` (the run's ``fusion/points.ply``) restores the occupancy grid that guides samples at
    views without depth; without them such views are sampled uniformly between near and far.
    """
    checkpoint = load_checkpoint(path)
    meta = checkpoint.meta
    with applying(path):
        config = from_mapping(LerfFieldConfig, meta["field_config"], source=f"{path} (field_config)")
        lower, upper = (np.asarray(v, dtype=np.float64) for v in meta["scene_bounds"])
        model = LerfField(config, SceneBounds(lower, upper), num_cameras=int(meta["num_cameras"]))
        model.load_state_dict(checkpoint.model)
    model = model.to(device).eval()
    if points is not None:
        xyz = torch.as_tensor(points.xyz, dtype=torch.float32, device=model.lower.device)
        model.occupancy = OccupancyGrid.from_points(xyz, model.lower, model.upper, OCCUPANCY_VOXEL)
    return model, checkpoint
