"""lerf3d.train: training a LerfField on a capture.

- :mod:`~lerf3d.train.config`: :class:`TrainConfig` (the config tree) and :func:`load_preset`
- :mod:`~lerf3d.train.presets`: TOML presets (``configs/``) -> typed configs, ``key=value`` overrides
- :mod:`~lerf3d.train.datamanager`: precomputed rays, :class:`TrainBatch` with language targets
- :mod:`~lerf3d.train.targets`: pyramid level, physical scale and CLIP/DINO targets per ray
- :mod:`~lerf3d.train.losses`, :mod:`~lerf3d.train.optimisers`: objective and optimisers
- :mod:`~lerf3d.train.checkpoints`: when checkpoints are written, and every RNG state for exact resumes
  (the file format and every reader of a run are :mod:`lerf3d.runs`')
- :mod:`~lerf3d.train.evaluate`: held-out PSNR / depth error and previews
- :mod:`~lerf3d.train.trainer`: :class:`Trainer`; :mod:`~lerf3d.train.command`: ``lerf3d train``
"""

from lerf3d.runs import Checkpoint, CheckpointError, latest_checkpoint, load_checkpoint, load_trained_field
from lerf3d.train.checkpoints import CheckpointConfig
from lerf3d.train.config import TrainConfig, load_preset
from lerf3d.train.datamanager import DataManager, DataManagerConfig, EvalView, TrainBatch, split_frames
from lerf3d.train.evaluate import EvalConfig, EvalResult, FrameMetrics
from lerf3d.train.losses import LossConfig, LossTerms, compute_losses
from lerf3d.train.optimisers import OptimConfig, OptimiserConfig
from lerf3d.train.presets import preset_names
from lerf3d.train.trainer import Trainer, TrainResult
from lerf3d.typed_config import ConfigError, apply_override, from_mapping

__all__ = [
    "Checkpoint",
    "CheckpointConfig",
    "CheckpointError",
    "ConfigError",
    "DataManager",
    "DataManagerConfig",
    "EvalConfig",
    "EvalResult",
    "EvalView",
    "FrameMetrics",
    "LossConfig",
    "LossTerms",
    "OptimConfig",
    "OptimiserConfig",
    "TrainBatch",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "apply_override",
    "compute_losses",
    "from_mapping",
    "latest_checkpoint",
    "load_checkpoint",
    "load_preset",
    "load_trained_field",
    "preset_names",
    "split_frames",
]
