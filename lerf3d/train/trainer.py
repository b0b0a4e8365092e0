"""Trainer: data manager + LerfField + optimisers, the training loop, evaluation and checkpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from lerf3d.capture.calibration import OVERRIDE_KEY
from lerf3d.features.extractor import CaptureFeatures
from lerf3d.field.model import LerfField
from lerf3d.field.occupancy import OCCUPANCY_VOXEL, OccupancyGrid
from lerf3d.runs import Checkpoint, CheckpointError, Run, latest_checkpoint, load_checkpoint, save_checkpoint
from lerf3d.runs.checkpoint_file import applying
from lerf3d.train.checkpoints import capture_rng_states, restore_rng_states
from lerf3d.train.config import TrainConfig
from lerf3d.train.datamanager import DataManager
from lerf3d.train.evaluate import EvalResult, evaluate
from lerf3d.train.interrupt import DeferredInterrupt
from lerf3d.train.logger import TrainLogger
from lerf3d.train.losses import LossTerms, compute_losses
from lerf3d.train.optimisers import build_optimisers
from lerf3d.typed_config import to_plain
from lerf3d.types import Capture, Frame, PointSet, SceneBounds

RESUME_CHECKED_FIELDS = ("seed", "field", "features", "data", "loss", "optim")
"""Config parts a resumed run must share with its checkpoint (the rest only changes reporting)."""


@dataclass(frozen=True)
class TrainResult:
    """What a call to :meth:`Trainer.train` did."""

    step: int
    """Steps completed in total (including those before a resume)."""
    steps_this_run: int
    """Steps this call performed."""
    seconds: float
    """Wall-clock time of the optimisation steps alone (no eval, no checkpoints)."""
    rays_per_second: float
    """Training rays per second over this call."""
    evaluation: EvalResult | None
    """Final held-out evaluation (None when the run stopped before its last step)."""
    checkpoint: Path | None
    """Last checkpoint written."""


class Trainer:
    """Trains a LerfField on a capture; ``run_dir`` receives checkpoints, TensorBoard logs and previews.

    ``points`` (the fused surface) gives the occupancy grid that guides samples on rays without depth
    and on held-out views. ``device`` is where model and rays live.
    """

    def __init__(
        self,
        config: TrainConfig,
        capture: Capture,
        bounds: SceneBounds,
        features: CaptureFeatures | None,
        run_dir: Path | None,
        device: torch.device | str = "cpu",
        points: PointSet | None = None,
    ) -> None:
        self.config = config
        self.bounds = bounds
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.device = torch.device(device)
        if config.field.language is not None and features is None:
            raise ValueError("the config has a language field: pass features (or set field.language = 'none')")
        language = features if config.field.language is not None else None
        self.data = DataManager(
            config.data, capture, bounds, config.field.contraction.margin, language, self.device, seed=config.seed
        )
        torch.manual_seed(config.seed)  # model initialisation
        cameras = len(self.data.train_indices)
        self.model = LerfField(self._field_config(), bounds, num_cameras=cameras).to(self.device)
        if points is not None:
            xyz = torch.as_tensor(points.xyz, dtype=torch.float32, device=self.device)
            lower, upper = self.model.lower, self.model.upper
            self.model.occupancy = OccupancyGrid.from_points(xyz, lower, upper, OCCUPANCY_VOXEL)
        self.model.train()
        self.optimisers = build_optimisers(self.model.param_groups(), config.optim, config.steps)
        self.render_generator = torch.Generator(device=self.device).manual_seed(config.seed + 1)
        self.step = 0
        self.last_checkpoint: Path | None = None
        self.encoders = (language.image_text_encoder, language.dense_encoder) if language is not None else (None, None)

    def _field_config(self):
        field = self.config.field
        if field.language is None:
            return field
        dims = {"clip_dim": self.data.clip_dim}
        if self.data.dino_dim is not None:
            dims["dino_dim"] = self.data.dino_dim
        return replace(field, language=replace(field.language, **dims))

    @property
    def checkpoint_dir(self) -> Path | None:
        return Run(self.run_dir).checkpoints if self.run_dir is not None else None

    def train_step(self) -> LossTerms:
        """One batch: render, losses, backward, both optimisers and schedulers."""
        batch = self.data.next_train()
        output = self.model.render_rays(
            batch.rays, with_language=batch.clip_target is not None, return_samples=True,
            generator=self.render_generator,
        )
        terms = compute_losses(output, batch, self.config.loss)
        self.optimisers.zero_grad()
        terms.total.backward()
        self.optimisers.step()
        return terms

    def train(self, until: int | None = None) -> TrainResult:
        """Train up to step ``until`` (default: the config's ``steps``); Ctrl-C saves and re-raises."""
        end = min(until if until is not None else self.config.steps, self.config.steps)
        start_step, seconds = self.step, 0.0
        logger = TrainLogger(self.config.logging, self.run_dir, self.config.steps, self.step)
        try:
            with DeferredInterrupt() as interrupt:
                while self.step < end and not interrupt.requested:
                    tick = time.perf_counter()
                    terms = self.train_step()
                    self.step += 1
                    elapsed = time.perf_counter() - tick
                    seconds += elapsed
                    rate = self.config.data.rays_per_batch / max(elapsed, 1e-9)
                    logger.step(self.step, terms.scalars(), rate, self.optimisers.learning_rates())
                    self._periodic(logger, end)
            if interrupt.requested:
                if self.config.checkpoint.save_on_interrupt and self.run_dir is not None:
                    self.save()
                raise KeyboardInterrupt
            if self.run_dir is not None and self.step > start_step and self._saved_step() != self.step:
                self.save()
            final = None
            if self.step == self.config.steps:
                out = Run(self.run_dir).eval if self.run_dir is not None else None
                final, previews = self._evaluate(self.data.eval_frames, out)
                logger.evaluation(self.step, final.scalars(), previews)
        finally:
            logger.close()
        done = self.step - start_step
        rays = done * self.config.data.rays_per_batch
        rate = rays / seconds if seconds else 0.0
        return TrainResult(self.step, done, seconds, rate, final, self.last_checkpoint)

    def _periodic(self, logger: TrainLogger, end: int) -> None:
        if self.step % self.config.eval.every == 0 and self.step < self.config.steps:
            result, previews = self._evaluate(self.data.eval_frames[: self.config.eval.periodic_frames], None)
            logger.evaluation(self.step, result.scalars(), previews)
        if self.run_dir is not None and self.step % self.config.checkpoint.every == 0 and self.step < end:
            self.save()

    def _saved_step(self) -> int | None:
        return int(self.last_checkpoint.stem.split("-")[1]) if self.last_checkpoint is not None else None

    def evaluate(self, frames: list[Frame] | None = None, write_previews: bool = False) -> EvalResult:
        """Scores of ``frames`` (default: every held-out frame); previews to ``DIR/eval`` on request."""
        out = Run(self.run_dir).eval if write_previews and self.run_dir is not None else None
        result, _ = self._evaluate(self.data.eval_frames if frames is None else frames, out)
        return result

    def _evaluate(self, frames: list[Frame], out: Path | None) -> tuple[EvalResult, dict[str, np.ndarray]]:
        return evaluate(self.model, self.data, frames, self.config.eval, self.step, out)

    # -- checkpoints -------------------------------------------------------------------------

    def _generators(self) -> dict[str, torch.Generator]:
        return {"sampler": self.data.generator, "render": self.render_generator}

    def _meta(self) -> dict[str, object]:
        """What a reader needs besides the weights: ``lerf3d.runs.load_trained_field`` rebuilds the model
        from it."""
        return {
            "train_frames": [f.name for f in self.data.train_frames],
            "image_text_encoder": self.encoders[0],
            "dense_encoder": self.encoders[1],
            "field_config": to_plain(self.model.config),  # with the features' clip/dino dims filled in
            "scene_bounds": [self.bounds.lower.tolist(), self.bounds.upper.tolist()],
            "num_cameras": len(self.data.train_indices),
            "capture": str(self.data.capture.root),
            "capture_intrinsics": self.data.capture.metadata.get(OVERRIDE_KEY),  # --intrinsics, if given
        }

    def checkpoint(self) -> Checkpoint:
        """The current state as a :class:`Checkpoint`."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        return Checkpoint(
            step=self.step,
            config=to_plain(self.config),
            model=state,
            optimisers=self.optimisers.state_dict(),
            rng=capture_rng_states(self._generators()),
            meta=self._meta(),
        )

    def save(self) -> Path:
        """Write a checkpoint of the current step under ``DIR/checkpoints`` (atomically)."""
        if self.checkpoint_dir is None:
            raise ValueError("this Trainer has no run_dir to save checkpoints in")
        keep = self.config.checkpoint.keep
        self.last_checkpoint = save_checkpoint(self.checkpoint(), self.checkpoint_dir, keep)
        return self.last_checkpoint

    def resume(self, path: Path | None = None) -> int:
        """Load ``path`` (default: the run's latest checkpoint); returns the step it continues from."""
        if path is None:
            path = latest_checkpoint(self.checkpoint_dir) if self.checkpoint_dir is not None else None
            if path is None:
                raise CheckpointError(f"no checkpoint to resume from in {self.checkpoint_dir}")
        checkpoint = load_checkpoint(path)
        self._check_compatible(checkpoint, path)
        with applying(path):
            self.model.load_state_dict({k: v.to(self.device) for k, v in checkpoint.model.items()})
            self.optimisers.load_state_dict(checkpoint.optimisers)
            restore_rng_states(checkpoint.rng, self._generators())
        self.step = checkpoint.step
        self.last_checkpoint = Path(path)
        return self.step

    def _check_compatible(self, checkpoint: Checkpoint, path: Path) -> None:
        mine, theirs = to_plain(self.config), checkpoint.config
        differ = [k for k in RESUME_CHECKED_FIELDS if mine.get(k) != theirs.get(k)]
        if differ:
            raise CheckpointError(
                f"{path} was trained with other settings for {differ}; resume with the checkpoint's config "
                "(lerf3d train --resume reads it) or start a new run directory"
            )
        frames = [f.name for f in self.data.train_frames]
        if checkpoint.meta.get("train_frames") != frames:
            raise CheckpointError(f"{path} was trained on other frames than this capture's training split")
        theirs_enc = (checkpoint.meta.get("image_text_encoder"), checkpoint.meta.get("dense_encoder"))
        if theirs_enc != self.encoders:
            raise CheckpointError(f"{path} was trained on features of encoders {theirs_enc}, these are {self.encoders}")
        if checkpoint.step > self.config.steps:
            raise CheckpointError(f"{path} is at step {checkpoint.step}, beyond this run's {self.config.steps} steps")
