"""One optimiser + learning-rate schedule per parameter group (LERF trains radiance and language apart).

The schedule is a pure function of the step (exponential decay from ``lr`` to ``lr_final`` over the
run's steps, constant after), so a resumed run that asks for more steps stretches the schedule
from where it stands instead of replaying a stored decay factor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

NERFACTO_LR = 1e-2
"""nerfacto's field learning rate (Tancik et al. 2023; nerfstudio method config "nerfacto")."""
NERFACTO_LR_FINAL = 1e-4
"""nerfacto's exponential-decay target for the field."""
LERF_LR = 1e-2
"""LERF's language-field learning rate (Kerr et al. 2023; lerf method config, RAdam)."""
LERF_LR_FINAL = 1e-3
"""LERF's exponential-decay target for the language field."""
ADAM_EPS = 1e-15
"""nerfacto/LERF use eps 1e-15: hash-table entries see rare, tiny gradients that a 1e-8 eps would mute."""
LERF_WEIGHT_DECAY = 1e-9
"""LERF's (negligible) RAdam weight decay, kept for fidelity."""
OPTIMISER_KINDS = ("adam", "radam")


@dataclass(frozen=True)
class OptimiserConfig:
    """One optimiser and its exponential learning-rate decay."""

    kind: Literal["adam", "radam"] = "adam"
    """torch.optim.Adam or RAdam (LERF's choice for the language field)."""
    lr: float = NERFACTO_LR
    """Initial learning rate."""
    lr_final: float = NERFACTO_LR_FINAL
    """Learning rate reached at the last step (exponential decay in between)."""
    eps: float = ADAM_EPS
    """Adam's epsilon."""
    weight_decay: float = 0.0
    """L2 weight decay."""
    warmup_steps: int = 0
    """Linear warm-up from 0 to ``lr`` over these steps (0: none)."""

    def __post_init__(self) -> None:
        if self.kind not in OPTIMISER_KINDS:
            raise ValueError(f"optimiser kind must be one of {OPTIMISER_KINDS}, got {self.kind!r}")
        if not self.lr > 0 or not self.lr_final > 0:
            raise ValueError(f"lr and lr_final must be positive, got lr={self.lr}, lr_final={self.lr_final}")
        if not self.eps > 0 or self.weight_decay < 0:
            raise ValueError(f"need eps > 0 and weight_decay >= 0, got {self.eps}, {self.weight_decay}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")


def _language_default() -> OptimiserConfig:
    return OptimiserConfig(kind="radam", lr=LERF_LR, lr_final=LERF_LR_FINAL, weight_decay=LERF_WEIGHT_DECAY)


@dataclass(frozen=True)
class OptimConfig:
    """The two optimisers: radiance (nerfacto) and language (LERF)."""

    radiance: OptimiserConfig = field(default_factory=OptimiserConfig)
    """Density/colour grids and MLPs."""
    language: OptimiserConfig = field(default_factory=_language_default)
    """Language grids and CLIP/DINO heads."""


def decay_factor(step: int, total_steps: int, config: OptimiserConfig) -> float:
    """lr(step) / lr: linear warm-up, then exponential decay reaching lr_final at ``total_steps``."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = min(max(step, 0), total_steps) / max(total_steps, 1)
    return (config.lr_final / config.lr) ** progress


def _make_optimiser(params: list[nn.Parameter], config: OptimiserConfig) -> torch.optim.Optimizer:
    cls = torch.optim.RAdam if config.kind == "radam" else torch.optim.Adam
    return cls(params, lr=config.lr, eps=config.eps, weight_decay=config.weight_decay)


class Optimisers:
    """Named optimisers and their schedulers, stepped and checkpointed together."""

    def __init__(
        self, groups: dict[str, list[nn.Parameter]], configs: dict[str, OptimiserConfig], total_steps: int
    ) -> None:
        missing = sorted(set(groups) - set(configs))
        if missing:
            raise ValueError(f"no optimiser config for parameter group(s) {missing}")
        self.total_steps = total_steps
        self.optimisers = {name: _make_optimiser(params, configs[name]) for name, params in groups.items()}
        self.schedulers = {
            name: torch.optim.lr_scheduler.LambdaLR(opt, self._schedule(configs[name]))
            for name, opt in self.optimisers.items()
        }

    def _schedule(self, config: OptimiserConfig) -> Callable[[int], float]:
        # A closure over self: set_total_steps() changes the horizon of every schedule at once.
        return lambda step: decay_factor(step, self.total_steps, config)

    def __iter__(self) -> Iterator[str]:
        return iter(self.optimisers)

    def zero_grad(self) -> None:
        for opt in self.optimisers.values():
            opt.zero_grad(set_to_none=True)

    def step(self) -> None:
        """One optimiser step, then one scheduler step, for every group."""
        for opt in self.optimisers.values():
            opt.step()
        for sched in self.schedulers.values():
            sched.step()

    def learning_rates(self) -> dict[str, float]:
        return {name: opt.param_groups[0]["lr"] for name, opt in self.optimisers.items()}

    def set_total_steps(self, total_steps: int) -> None:
        """Stretch every schedule to a new horizon (a resumed run asked for more steps)."""
        self.total_steps = total_steps
        for sched in self.schedulers.values():
            for group, base, fn in zip(sched.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas):
                group["lr"] = base * fn(sched.last_epoch)

    def state_dict(self) -> dict[str, dict]:
        return {
            "optimisers": {name: opt.state_dict() for name, opt in self.optimisers.items()},
            "schedulers": {name: sched.state_dict() for name, sched in self.schedulers.items()},
        }

    def load_state_dict(self, state: dict[str, dict]) -> None:
        if set(state["optimisers"]) != set(self.optimisers):
            raise ValueError(
                f"checkpoint has optimisers {sorted(state['optimisers'])}, this model needs {sorted(self.optimisers)}"
            )
        for name, opt in self.optimisers.items():
            opt.load_state_dict(state["optimisers"][name])
            self.schedulers[name].load_state_dict(state["schedulers"][name])
        self.set_total_steps(self.total_steps)


def build_optimisers(model_groups: dict[str, list[nn.Parameter]], config: OptimConfig, total_steps: int) -> Optimisers:
    """Optimisers for the groups a model reports (``LerfField.param_groups``)."""
    configs = {"radiance": config.radiance, "language": config.language}
    return Optimisers(model_groups, configs, total_steps)
