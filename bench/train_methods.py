"""The two methods ``bench/train.py`` compares, each stepped as its own trainer steps it and timed
over its optimisation steps alone: lerf3d's ``Trainer`` and nerfstudio's nerfacto. Each runs in its
own process (``bench/train.py --worker``) and reports a :class:`RunResult`."""

from __future__ import annotations

import argparse
import copy
import random
import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import torch

NERFACTO_RAYS = 4096
"""nerfacto's train_num_rays_per_batch (nerfstudio method config "nerfacto")."""


@dataclass(frozen=True)
class CurvePoint:
    """One held-out score during training, at the train times (evaluation excluded) so far."""

    step: int
    wall_seconds: float
    cpu_seconds: float
    psnr: float


@dataclass
class RunResult:
    """What one training process reports."""

    method: str
    steps: int
    rays_per_batch: int
    train_seconds: float
    """Wall-clock time of the optimisation steps alone."""
    train_cpu_seconds: float
    """CPU time (all threads) of the same steps: steadier than wall time on a shared machine."""
    setup_seconds: float
    """Capture, fusion/features or dataparser, ray precomputation, model construction."""
    psnr: float
    """Mean PSNR over the held-out frames (dB)."""
    depth_error_m: float | None
    """Mean held-out |rendered - measured| z-depth (m); None where the method's depth is not metric."""
    peak_rss_gb: float
    eval_seconds: float
    """Rendering and scoring the held-out frames."""
    eval_frames: list[str]
    """Held-out frame names, in order."""
    curve: list[CurvePoint] = field(default_factory=list)
    """Held-out PSNR during training (lerf3d's equal-compute run); empty where not recorded."""

    def __post_init__(self) -> None:  # from JSON the points arrive as dicts
        self.curve = [p if isinstance(p, CurvePoint) else CurvePoint(**p) for p in self.curve]

    @property
    def rays_per_second(self) -> float:
        return self.steps * self.rays_per_batch / self.train_seconds

    @property
    def rays_per_cpu_second(self) -> float:
        return self.steps * self.rays_per_batch / self.train_cpu_seconds

    def describe(self) -> str:
        return (
            f"{self.method}: {self.steps} steps in {self.train_seconds:.1f} s "
            f"({self.train_cpu_seconds:.1f} CPU s), "
            f"{self.rays_per_second:,.0f} rays/s ({self.rays_per_cpu_second:,.0f} per CPU s), setup "
            f"{self.setup_seconds:.1f} s, eval {self.eval_seconds:.1f} s, held-out PSNR {self.psnr:.2f} dB"
        )


@dataclass
class StepClock:
    """Wall and CPU seconds summed over the timed blocks."""

    wall: float = 0.0
    cpu: float = 0.0

    @contextmanager
    def timing(self):
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def run_lerf3d(args: argparse.Namespace) -> RunResult:
    """lerf3d's Trainer, stepped as ``Trainer.train`` steps it, for ``steps`` or ``budget`` seconds."""
    from lerf3d.capture import load_capture
    from lerf3d.fusion import FusionConfig, fuse_capture
    from lerf3d.train import Trainer, load_preset
    from lerf3d.train.command import extract_features
    from lerf3d.typed_config import apply_override

    start = time.perf_counter()
    config = load_preset(args.preset)
    overrides = {"logging.progress": "false", "logging.tensorboard": "false"}
    if args.no_language:
        overrides["field.language"] = "none"
    for key, value in overrides.items():
        config = apply_override(config, key, value)
    limit = config.steps if args.budget is not None else args.steps
    config = config.with_steps(limit)
    capture = load_capture(args.capture)
    fusion = fuse_capture(capture, FusionConfig(progress=False))
    features = extract_features(config, capture, args.image_text, args.dense, args.out / "features")
    trainer = Trainer(config, capture, fusion.bounds, features, None, points=fusion.points)
    setup = time.perf_counter() - start
    frames = trainer.data.eval_frames[: args.eval_frames or None]
    clock, curve = StepClock(), []
    while trainer.step < limit and (args.budget is None or clock.cpu < args.budget):
        with clock.timing():
            trainer.train_step()
        trainer.step += 1
        if args.curve_every and trainer.step % args.curve_every == 0:  # outside the timed block
            curve.append(CurvePoint(trainer.step, clock.wall, clock.cpu, trainer.evaluate(frames).psnr))
    tick = time.perf_counter()
    result = trainer.evaluate(frames)
    if args.curve_every and (not curve or curve[-1].step != trainer.step):
        curve.append(CurvePoint(trainer.step, clock.wall, clock.cpu, result.psnr))
    return RunResult(
        "lerf3d", trainer.step, config.data.rays_per_batch, clock.wall, clock.cpu, setup, result.psnr,
        result.depth_abs_error, peak_rss_gb(), time.perf_counter() - tick, [f.name for f in result.frames],
        curve,
    )


def _nerfacto_without_lpips():
    """nerfacto whose LPIPS metric is never built: building it downloads AlexNet weights, which
    fails offline. The bench scores images itself (PSNR), so the metric is replaced, for the
    duration of the model's construction only, by a stand-in that refuses to be used."""
    from nerfstudio.models.nerfacto import NerfactoModel

    class NoLpips(torch.nn.Module):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__()

        def forward(self, *args, **kwargs):
            raise RuntimeError("LPIPS is not available in this benchmark (it needs downloaded weights)")

    class NerfactoWithoutLpips(NerfactoModel):
        def populate_modules(self) -> None:
            with mock.patch("torchmetrics.image.lpip.LearnedPerceptualImagePatchSimilarity", NoLpips):
                super().populate_modules()

    return NerfactoWithoutLpips


def nerfacto_trainer(args: argparse.Namespace, eval_every: int, seed: int):
    """nerfstudio's "nerfacto" config on the capture (CPU, in-process data manager, no viewer)."""
    from nerfstudio.configs.method_configs import method_configs
    from nerfstudio.data.datamanagers.base_datamanager import VanillaDataManagerConfig
    from nerfstudio.data.dataparsers.nerfstudio_dataparser import NerfstudioDataParserConfig

    config = copy.deepcopy(method_configs["nerfacto"])
    config.output_dir, config.timestamp, config.vis = args.out / "nerfacto", "bench", "tensorboard"
    config.machine.device_type, config.machine.seed = "cpu", seed
    config.mixed_precision = False
    config.max_num_iterations = args.steps
    config.logging.local_writer.enable, config.logging.profiler = False, "none"
    config.pipeline.datamanager = VanillaDataManagerConfig(
        data=args.capture,
        dataparser=NerfstudioDataParserConfig(eval_mode="interval", eval_interval=eval_every),
        train_num_rays_per_batch=NERFACTO_RAYS,
        eval_num_rays_per_batch=NERFACTO_RAYS,
    )
    config.pipeline.model._target = _nerfacto_without_lpips()
    random.seed(seed)  # what ns-train's train_loop seeds before building the trainer
    np.random.seed(seed)
    torch.manual_seed(seed)
    trainer = config.setup(local_rank=0, world_size=1)
    trainer.setup()
    return trainer


def run_nerfacto(args: argparse.Namespace) -> RunResult:
    """nerfacto stepped as nerfstudio's ``Trainer.train`` steps it (callbacks included)."""
    from nerfstudio.engine.callbacks import TrainingCallbackLocation

    from lerf3d.field.losses import psnr
    from lerf3d.train import load_preset

    start = time.perf_counter()
    preset = load_preset(args.preset)
    trainer = nerfacto_trainer(args, preset.data.eval_every, preset.seed)
    setup = time.perf_counter() - start
    clock = StepClock()
    before = TrainingCallbackLocation.BEFORE_TRAIN_ITERATION
    after = TrainingCallbackLocation.AFTER_TRAIN_ITERATION
    for step in range(args.steps):
        with clock.timing():
            trainer.pipeline.train()
            for callback in trainer.callbacks:
                callback.run_callback_at_location(step, location=before)
            trainer.train_iteration(step)
            for callback in trainer.callbacks:
                callback.run_callback_at_location(step, location=after)
    tick = time.perf_counter()
    pipeline = trainer.pipeline
    pipeline.eval()
    dataset = pipeline.datamanager.eval_dataset
    scores = []
    frames = range(min(args.eval_frames or len(dataset), len(dataset)))
    for index in frames:
        camera = dataset.cameras[index : index + 1].to(pipeline.device)
        outputs = pipeline.model.get_outputs_for_camera(camera)
        truth = dataset[index]["image"][..., :3]
        scores.append(float(psnr(outputs["rgb"].clamp(0, 1).cpu(), truth)))
    names = [Path(dataset.image_filenames[i]).stem for i in frames]
    return RunResult(
        "nerfacto", args.steps, NERFACTO_RAYS, clock.wall, clock.cpu, setup, sum(scores) / len(scores), None,
        peak_rss_gb(), time.perf_counter() - tick, names,
    )
