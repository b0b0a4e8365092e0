"""TrainConfig: the root of the config tree a preset file (``configs/*.toml``) fills in.

(``dataclasses.field`` is spelled out: the config has a member called ``field``.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from pathlib import Path

from lerf3d.features.extractor import FeatureExtractorConfig
from lerf3d.field.model import LerfFieldConfig
from lerf3d.train.checkpoints import CheckpointConfig
from lerf3d.train.datamanager import DataManagerConfig
from lerf3d.train.evaluate import EvalConfig
from lerf3d.train.logger import LoggingConfig
from lerf3d.train.losses import LossConfig
from lerf3d.train.optimisers import OptimConfig
from lerf3d.train.presets import CONFIGS_DIR, preset_path
from lerf3d.typed_config import load_toml_config


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (device and paths come from the caller)."""

    steps: int = 2000
    """Optimisation steps of the whole run."""
    seed: int = 0
    """Seeds model initialisation and ray sampling: the same seed, data and config give the same run."""
    field: LerfFieldConfig = dataclasses.field(default_factory=LerfFieldConfig)
    """The scene model. Its language ``clip_dim``/``dino_dim`` are taken from the features."""
    features: FeatureExtractorConfig = dataclasses.field(default_factory=FeatureExtractorConfig)
    """Crop pyramid and DINO map extraction (the pyramid's settings are part of the cache key)."""
    data: DataManagerConfig = dataclasses.field(default_factory=DataManagerConfig)
    """Train/held-out split and ray batches."""
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    """Loss weights."""
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    """Radiance and language optimisers."""
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    """Held-out evaluation."""
    checkpoint: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)
    """Checkpoint frequency and retention."""
    logging: LoggingConfig = dataclasses.field(default_factory=LoggingConfig)
    """Progress bar and TensorBoard."""

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")

    def with_steps(self, steps: int) -> TrainConfig:
        """The same run with another length (the learning-rate decay follows it)."""
        return replace(self, steps=steps)


def load_preset(name_or_path: str | Path, configs_dir: Path = CONFIGS_DIR) -> TrainConfig:
    """The TrainConfig of ``configs/<name>.toml`` (tiny, default, big) or of a ``.toml`` path."""
    return load_toml_config(TrainConfig, preset_path(name_or_path, configs_dir))
