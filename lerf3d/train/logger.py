"""Progress bar and TensorBoard event logs of a training run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

TENSORBOARD_DIR = "tensorboard"
"""Sub-folder of the run directory holding the event files (``tensorboard --logdir DIR``)."""


@dataclass(frozen=True)
class LoggingConfig:
    """What a run reports, and how often."""

    every: int = 10
    """Steps between scalar logs and progress-bar updates."""
    progress: bool = True
    """Show a tqdm bar with loss, PSNR and rays/s."""
    tensorboard: bool = True
    """Write TensorBoard event files under ``DIR/tensorboard``."""

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"logging every must be >= 1 steps, got {self.every}")


class TrainLogger:
    """tqdm bar + TensorBoard writer; both optional, both closed by :meth:`close`."""

    def __init__(self, config: LoggingConfig, run_dir: Path | None, total_steps: int, start_step: int) -> None:
        self.config = config
        self.writer = None
        if config.tensorboard and run_dir is not None:
            from torch.utils.tensorboard import SummaryWriter  # deferred: imports tensorboard (~1 s)

            self.writer = SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR), purge_step=start_step)
        self.bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step", disable=not config.progress)

    def step(self, step: int, scalars: dict[str, float], rays_per_second: float, lrs: dict[str, float]) -> None:
        """Report step ``step`` (1-based: steps completed) every ``config.every`` steps."""
        self.bar.update(1)
        if step % self.config.every:
            return
        self.bar.set_postfix(
            loss=f"{scalars['total']:.4f}", psnr=f"{scalars['psnr']:.2f}", rays_s=f"{rays_per_second:,.0f}"
        )
        if self.writer is not None:
            for name, value in scalars.items():
                self.writer.add_scalar(f"train/{name}", value, step)
            for name, value in lrs.items():
                self.writer.add_scalar(f"lr/{name}", value, step)
            self.writer.add_scalar("perf/rays_per_second", rays_per_second, step)

    def evaluation(self, step: int, scalars: dict[str, float], images: dict[str, np.ndarray]) -> None:
        """Held-out metrics and preview images ((H, W, 3) uint8) at ``step``."""
        self.bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in scalars.items()))
        if self.writer is None:
            return
        for name, value in scalars.items():
            self.writer.add_scalar(f"eval/{name}", value, step)
        for name, image in images.items():
            self.writer.add_image(f"eval/{name}", image, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()
