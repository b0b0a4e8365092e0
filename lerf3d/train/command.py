"""``lerf3d train``: capture -> fusion (bounds, points) -> features (cached) -> Trainer -> checkpoints.

Each input stage is reused when its output is already there: ``DIR/fusion/bounds.json`` and
``points.ply`` from an earlier run, feature files from the content-keyed cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lerf3d.capture import IntrinsicsOverride, frames_summary, load_capture
from lerf3d.capture.calibration import INTRINSICS_KEY
from lerf3d.encoders.spec import DEFAULT_DENSE_SPEC, DEFAULT_IMAGE_TEXT_SPEC
from lerf3d.features.extractor import CaptureFeatures
from lerf3d.preflight import check_output_path
from lerf3d.runs import (
    CheckpointError,
    Run,
    features_folder,
    latest_checkpoint,
    load_checkpoint,
    load_trained_field,
)
from lerf3d.train.config import TrainConfig, load_preset
from lerf3d.train.datamanager import describe_split, split_frames
from lerf3d.train.evaluate import EvalResult
from lerf3d.train.trainer import Trainer, TrainResult
from lerf3d.typed_config import apply_override, apply_overrides, from_mapping
from lerf3d.types import Capture, PointSet, SceneBounds


@dataclass(frozen=True)
class TrainRequest:
    """What the command line asked for."""

    capture: Path
    """Capture folder or file."""
    out: Path
    """Run directory: checkpoints/, tensorboard/, eval/, fusion/ (and features/ by default)."""
    preset: str = "default"
    """Preset name (configs/<name>.toml) or a .toml path; ignored on --resume (the checkpoint's config is used)."""
    steps: int | None = None
    """Total steps, overriding the preset's (on resume: extends the run)."""
    resume: bool = False
    """Continue from DIR/checkpoints/latest."""
    image_text: str = DEFAULT_IMAGE_TEXT_SPEC
    """Image-text encoder spec for the crop pyramids."""
    dense: str | None = DEFAULT_DENSE_SPEC
    """Dense (DINO) encoder spec; None trains without DINO targets."""
    features_dir: Path | None = None
    """Feature cache folder; None: CAPTURE/features when it exists, else DIR/features."""
    device: str = "cpu"
    """Torch device for encoders and training."""
    overrides: tuple[str, ...] = ()
    """``key=value`` config overrides (dotted keys, TOML values)."""
    intrinsics: IntrinsicsOverride | None = None
    """Camera replacing the capture's (``--intrinsics``); None keeps what the capture states."""


@dataclass(frozen=True)
class TrainRunSummary:
    """What :func:`run_train` did, for the CLI and the demo to print."""

    out: Path
    """Run directory."""
    config: TrainConfig
    """The config that was trained."""
    result: TrainResult
    """Steps, speed, final evaluation, last checkpoint."""
    resumed_from: int | None
    """Step the run continued from, None for a fresh run."""
    setup_seconds: float
    """Fusion + features + ray precomputation time."""
    evaluated: str = "held-out"
    """What the final evaluation scored (:func:`describe_split`): held-out frames, or training frames."""

    @property
    def evaluation(self) -> EvalResult | None:
        return self.result.evaluation

    def describe(self) -> str:
        r = self.result
        start = f"resumed at step {self.resumed_from}, " if self.resumed_from is not None else ""
        lines = [
            f"trained {start}{r.steps_this_run} steps to step {r.step} in {r.seconds:.1f} s "
            f"({r.rays_per_second:,.0f} rays/s; setup {self.setup_seconds:.1f} s) -> {r.checkpoint}"
        ]
        if r.evaluation is not None:
            e = r.evaluation
            lines.append(
                f"{self.evaluated}: PSNR {e.psnr:.2f} dB, depth error {e.depth_abs_error * 100:.1f} cm "
                f"-> previews in {Run(self.out).eval}"
            )
        return "\n".join(lines)


def resolve_config(request: TrainRequest) -> tuple[TrainConfig, Path | None]:
    """The config to train and, on resume, the checkpoint to continue from."""
    if request.resume:
        run = Run(request.out)
        path = latest_checkpoint(run.checkpoints)
        if path is None:
            raise CheckpointError(f"--resume: no checkpoint in {run.checkpoints}")
        config = from_mapping(TrainConfig, load_checkpoint(path).config, source=str(path))
        load_trained_field(path)  # weights that do not fit the recorded field fail before any output
    else:
        path, config = None, load_preset(request.preset)
    config = apply_overrides(config, request.overrides)
    if request.steps is not None:
        config = apply_override(config, "steps", str(request.steps))
    return config, path


def fused_scene(capture: Capture, out: Path, device: str = "cpu") -> tuple[SceneBounds, PointSet]:
    """Bounds and surface points from ``out/fusion`` when present, else from a new TSDF fusion (the
    torch fusion backend runs on ``device``)."""
    from lerf3d.fusion import FusionConfig, fuse_capture, load_bounds, load_points, save_fusion

    run = Run(out)
    if run.fusion_bounds.is_file() and run.fusion_points.is_file():
        return load_bounds(run.fusion_bounds), load_points(run.fusion_points)
    result = fuse_capture(capture, FusionConfig(device=device))
    save_fusion(result, run.fusion)
    return result.bounds, result.points


def request_features_folder(request: TrainRequest) -> Path:
    """``--features-dir``, else the run's features folder (``CAPTURE/features`` when it exists)."""
    if request.features_dir is not None:
        return request.features_dir
    return features_folder(Run(request.out), request.capture)


def extract_features(
    config: TrainConfig, capture: Capture, image_text: str, dense: str | None, cache_dir: Path, device: str = "cpu"
) -> CaptureFeatures | None:
    """Crop pyramids and DINO maps with the config's pyramid (None when the field has no language)."""
    if config.field.language is None:
        return None
    from lerf3d.features.command import run_features

    summary, features = run_features(
        capture, cache_dir, image_text, dense, device=device, batch_size=config.features.batch_size,
        pyramid=config.features.pyramid, show_progress=config.features.show_progress,
    )
    print(summary.describe())
    return features


def train_capture(
    config: TrainConfig,
    capture: Capture,
    bounds: SceneBounds,
    points: PointSet | None,
    features: CaptureFeatures | None,
    out: Path,
    device: str = "cpu",
    resume_from: Path | None = None,
    setup_seconds: float = 0.0,
) -> TrainRunSummary:
    """Train (or continue) a run in ``out`` on already fused and featurised data."""
    start = time.perf_counter()
    trainer = Trainer(config, capture, bounds, features, out, torch.device(device), points)
    resumed = trainer.resume(resume_from) if resume_from is not None else None
    setup = setup_seconds + time.perf_counter() - start
    evaluated = describe_split(len(capture.frames), config.data.eval_every)
    return TrainRunSummary(out, config, trainer.train(), resumed, setup, evaluated)


def run_train(request: TrainRequest) -> TrainRunSummary:
    """Everything ``lerf3d train`` does; errors (bad config, missing weights) surface before training."""
    start = time.perf_counter()
    check_output_path(request.out, folder=True)
    if request.features_dir is not None:
        check_output_path(request.features_dir, "--features-dir", folder=True)
    config, checkpoint = resolve_config(request)
    capture = load_capture(request.capture, intrinsics=request.intrinsics)
    try:  # a split that cannot train fails before any output
        split_frames(len(capture.frames), config.data.eval_every)
    except ValueError as err:
        raise ValueError(f"{request.capture}: {err}") from None
    print(f"capture: {frames_summary(capture)} ({capture.source_format}); "
          f"intrinsics {capture.metadata.get(INTRINSICS_KEY, 'as stated per frame')}")
    bounds, points = fused_scene(capture, request.out, request.device)
    features = extract_features(
        config, capture, request.image_text, request.dense, request_features_folder(request), request.device
    )
    setup = time.perf_counter() - start
    return train_capture(config, capture, bounds, points, features, request.out, request.device, checkpoint, setup)
