"""``ns-train lerf3d``: lerf3d as a nerfstudio method (entry point group ``nerfstudio.method_configs``).

Each method is a lerf3d preset (``configs/<name>.toml``) laid out as nerfstudio's config tree:

==================  ==========================================  ======================
lerf3d preset       nerfstudio config                           command-line flags
==================  ==========================================  ======================
``steps``           ``max_num_iterations``, scheduler horizon   ``--max-num-iterations``
``seed``            ``machine.seed``, model and data seeds      ``--machine.seed``
``[field]``         ``pipeline.model.field``                    ``--pipeline.model.field.*``
``[loss]``          ``pipeline.model.loss``                     ``--pipeline.model.loss.*``
``[data]``          ``pipeline.datamanager.rays``               ``--pipeline.datamanager.rays.*``
``[features]``      ``pipeline.datamanager.features``           ``--pipeline.datamanager.features.*``
``[optim]``         ``optimizers.radiance`` / ``.language``     ``--optimizers.*``
==================  ==========================================  ======================

so ``ns-train lerf3d --data CAPTURE`` trains what ``lerf3d train CAPTURE --preset default`` trains,
with the same field, batches, losses, optimisers and schedule.
"""

from __future__ import annotations

import torch
from nerfstudio.configs.base_config import LoggingConfig, MachineConfig, ViewerConfig
from nerfstudio.engine.trainer import TrainerConfig
from nerfstudio.pipelines.base_pipeline import VanillaPipelineConfig
from nerfstudio.plugins.types import MethodSpecification
from nerfstudio.utils.rich_utils import CONSOLE

from lerf3d.integrations.nerfstudio_data import Lerf3dDataManagerConfig
from lerf3d.integrations.nerfstudio_model import Lerf3dModelConfig
from lerf3d.integrations.nerfstudio_optim import nerfstudio_optimizers
from lerf3d.train.config import TrainConfig, load_preset
from lerf3d.typed_config import ConfigError

DEFAULT_PRESET = "default"
"""Preset behind ``ns-train lerf3d``."""
TINY_PRESET = "tiny"
"""Preset behind ``ns-train lerf3d-tiny`` (CI and tests: a generated tiny room in seconds)."""


def method_config(train: TrainConfig, method_name: str) -> TrainerConfig:
    """nerfstudio's TrainerConfig for a lerf3d TrainConfig."""
    device = "cuda" if torch.cuda.is_available() else "cpu"  # lerf3d is built to train on a CPU too
    datamanager = Lerf3dDataManagerConfig(
        rays=train.data,
        features=train.features,
        language=train.field.language is not None,
        box_margin=train.field.contraction.margin,
        seed=train.seed,
    )
    model = Lerf3dModelConfig(
        field=train.field, loss=train.loss, seed=train.seed, eval_num_rays_per_chunk=train.eval.chunk_size
    )
    return TrainerConfig(
        method_name=method_name,
        max_num_iterations=train.steps,
        steps_per_save=train.checkpoint.every,
        steps_per_eval_batch=train.eval.every,
        steps_per_eval_image=train.eval.every,
        machine=MachineConfig(seed=train.seed, device_type=device),
        logging=LoggingConfig(steps_per_log=train.logging.every),
        pipeline=VanillaPipelineConfig(datamanager=datamanager, model=model),
        optimizers=nerfstudio_optimizers(train.optim, train.steps),
        viewer=ViewerConfig(num_rays_per_chunk=train.eval.chunk_size),
        vis="viewer",
    )


def preset_method(preset: str, method_name: str, description: str) -> MethodSpecification:
    """The MethodSpecification of a lerf3d preset.

    nerfstudio loads every registered method whenever any ``ns-*`` command starts, so a preset
    that cannot be read (a broken or edited preset file) must not break the others:
    the method then falls back to the dataclass defaults and says so.
    """
    try:
        train = load_preset(preset)
    except ConfigError as err:
        CONSOLE.print(f"[bold yellow]lerf3d: {err}; method {method_name} uses lerf3d's built-in defaults")
        train = TrainConfig()
    return MethodSpecification(config=method_config(train, method_name), description=description)


lerf3d_method = preset_method(
    DEFAULT_PRESET,
    "lerf3d",
    "lerf3d: depth-guided language field (LERF maths, CPU-friendly); needs an RGB-D capture.",
)
lerf3d_tiny_method = preset_method(
    TINY_PRESET,
    "lerf3d-tiny",
    "lerf3d with the tiny preset: a few-second smoke run on a small capture.",
)
