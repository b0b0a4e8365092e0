"""lerf3d's optimisers and learning-rate schedule as nerfstudio optimizer/scheduler configs.

nerfstudio builds one optimizer (and scheduler) per parameter group named by the model; lerf3d's
groups are "radiance" and "language" (``LerfField.param_groups``), each with its own
:class:`~lerf3d.train.OptimiserConfig`. The schedule is lerf3d's own :func:`decay_factor`, so a
step of ``ns-train lerf3d`` has the learning rates of the same step of ``lerf3d train``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Type

from nerfstudio.engine.optimizers import AdamOptimizerConfig, OptimizerConfig, RAdamOptimizerConfig
from nerfstudio.engine.schedulers import Scheduler, SchedulerConfig
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from lerf3d.train.optimisers import NERFACTO_LR_FINAL, OptimConfig, OptimiserConfig, decay_factor


@dataclass
class Lerf3dDecaySchedulerConfig(SchedulerConfig):
    """lerf3d's schedule: linear warm-up, then exponential decay from the optimizer's lr to ``lr_final``."""

    _target: Type = dataclasses.field(default_factory=lambda: Lerf3dDecayScheduler)
    """Scheduler class to build."""
    lr_final: float = NERFACTO_LR_FINAL
    """Learning rate reached at ``max_steps``, constant after."""
    warmup_steps: int = 0
    """Linear warm-up from 0 to the optimizer's lr over these steps (0: none)."""
    max_steps: int = 2000
    """Steps over which the decay runs (lerf3d: the preset's ``steps``)."""


class Lerf3dDecayScheduler(Scheduler):
    """Builds a LambdaLR over :func:`lerf3d.train.optimisers.decay_factor`."""

    config: Lerf3dDecaySchedulerConfig

    def get_scheduler(self, optimizer: Optimizer, lr_init: float) -> LambdaLR:
        config = self.config
        schedule = OptimiserConfig(lr=lr_init, lr_final=config.lr_final, warmup_steps=config.warmup_steps)
        max_steps = config.max_steps
        return LambdaLR(optimizer, lambda step: decay_factor(step, max_steps, schedule))


def optimizer_config(config: OptimiserConfig) -> OptimizerConfig:
    """The nerfstudio optimizer config building the same torch optimizer as lerf3d."""
    cls = RAdamOptimizerConfig if config.kind == "radam" else AdamOptimizerConfig
    return cls(lr=config.lr, eps=config.eps, weight_decay=config.weight_decay)


def nerfstudio_optimizers(optim: OptimConfig, steps: int) -> dict[str, dict[str, Any]]:
    """``TrainerConfig.optimizers`` for lerf3d's parameter groups, decaying over ``steps``."""
    groups = {}
    for group in dataclasses.fields(OptimConfig):
        config: OptimiserConfig = getattr(optim, group.name)
        scheduler = Lerf3dDecaySchedulerConfig(
            lr_final=config.lr_final, warmup_steps=config.warmup_steps, max_steps=steps
        )
        groups[group.name] = {"optimizer": optimizer_config(config), "scheduler": scheduler}
    return groups
