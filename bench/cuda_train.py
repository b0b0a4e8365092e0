"""Field training on a CUDA device against the same machine's CPU: same capture, features, config
and steps, in one process.

    python bench/cuda_train.py prepare BUNDLE [--capture DIR]      # where lerf3d is fully installed
    python bench/cuda_train.py run BUNDLE [--steps 300] [--preset default] [--threads 16]

``prepare`` fuses the capture (open3d) and extracts its features (the encoders, MiniLM included),
then writes everything the trainer reads into BUNDLE: the capture's files, ``bounds.json``, the
fused points as ``points.npz`` and the feature pyramids and DINO maps as ``features.pt`` (plain
tensors). ``run`` needs only torch and lerf3d's pure-PyTorch modules, so it runs on a GPU machine
where neither open3d nor the MiniLM package is installed. It trains the preset once on the CPU and
once on ``cuda`` for ``--steps`` steps each (after one warm-up step) and prints, per device, the first step's loss, the final
held-out PSNR and the training rays per second, then one markdown row for ``docs/benchmarks.md``.

The two runs do not draw the same random numbers (the renderer's stratified samples come from a
generator on the run's device), so their losses differ in the third or fourth digit; what must agree
is the held-out PSNR the same number of steps reaches. Without CUDA the ``cuda`` run is skipped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from lerf3d.capture import load_capture
from lerf3d.encoders.spec import DEFAULT_DENSE_SPEC, DEFAULT_IMAGE_TEXT_SPEC
from lerf3d.features.extractor import CaptureFeatures
from lerf3d.fusion.export import load_bounds
from lerf3d.train.config import TrainConfig, load_preset
from lerf3d.train.trainer import Trainer
from lerf3d.types import Capture, PointSet, SceneBounds

DEFAULT_CAPTURE = Path("outputs/demo_tiny/capture")


def prepare(bundle: Path, capture_dir: Path, preset: str) -> None:
    from lerf3d.train.command import extract_features, fused_scene

    tmp = bundle.with_name(bundle.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(capture_dir, tmp / "capture", ignore=shutil.ignore_patterns("features"))
    capture = load_capture(tmp / "capture")
    _, points = fused_scene(capture, tmp / "run")  # writes run/fusion/bounds.json
    features = extract_features(load_preset(preset), capture, DEFAULT_IMAGE_TEXT_SPEC, DEFAULT_DENSE_SPEC,
                                tmp / "features")
    shutil.copy(tmp / "run" / "fusion" / "bounds.json", tmp / "bounds.json")
    np.savez(tmp / "points.npz", xyz=points.xyz, rgb=points.rgb)
    torch.save({"frames": dict(features.frames), "image_text_encoder": features.image_text_encoder,
                "dense_encoder": features.dense_encoder}, tmp / "features.pt")
    shutil.rmtree(tmp / "run")
    shutil.rmtree(tmp / "features")
    shutil.rmtree(bundle, ignore_errors=True)
    tmp.rename(bundle)
    print(f"wrote {bundle} ({sum(f.stat().st_size for f in bundle.rglob('*') if f.is_file()) / 1e6:.1f} MB)")


def load_bundle(bundle: Path) -> tuple[Capture, SceneBounds, PointSet, CaptureFeatures]:
    """What :func:`prepare` wrote: capture, bounds, fused points and features (CPU tensors)."""
    arrays = np.load(bundle / "points.npz")
    return (
        load_capture(bundle / "capture"),
        load_bounds(bundle / "bounds.json"),
        PointSet(arrays["xyz"], arrays["rgb"], None),
        CaptureFeatures(**torch.load(bundle / "features.pt", weights_only=False)),
    )


def train_on(data: tuple[Capture, SceneBounds, PointSet, CaptureFeatures], config: TrainConfig, device: str) -> dict[str, float]:
    capture, bounds, points, features = data
    trainer = Trainer(config, capture, bounds, features, None, device, points)
    first_loss = float(trainer.train_step().total.detach())  # also the warm-up (CUDA context, kernels)
    start = time.perf_counter()
    result = trainer.train()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    return {
        "first_loss": first_loss,
        "psnr": result.evaluation.psnr if result.evaluation is not None else float("nan"),
        "rays_per_s": config.steps * config.data.rays_per_batch / wall,
        "seconds": wall,
    }


def run(bundle: Path, preset: str, steps: int, threads: int) -> int:
    torch.set_num_threads(threads)
    config = replace(load_preset(preset), steps=steps)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    data = load_bundle(bundle)
    results = {}
    for device in devices:
        results[device] = train_on(data, config, device)
        r = results[device]
        print(f"{device}: first loss {r['first_loss']:.4f}, held-out PSNR {r['psnr']:.2f} dB after {steps} steps, "
              f"{r['rays_per_s']:.0f} rays/s ({r['seconds']:.1f} s)", flush=True)
    if "cuda" in results:
        name = torch.cuda.get_device_name()
        cpu, gpu = results["cpu"], results["cuda"]
        print(json.dumps({"device": name, "threads": threads, **{f"{k}_{d}": v for d, r in results.items() for k, v in r.items()}}))
        print(f"| {bundle.name} | {preset}, {steps} steps | {name} vs CPU ({threads} threads) | "
              f"{gpu['rays_per_s']:.0f} / {cpu['rays_per_s']:.0f} | {gpu['rays_per_s'] / cpu['rays_per_s']:.1f}x | "
              f"{gpu['psnr']:.2f} / {cpu['psnr']:.2f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("prepare", "run"))
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE, help="capture to bundle (prepare)")
    parser.add_argument("--preset", default="default", help="training preset (default: default)")
    parser.add_argument("--steps", type=int, default=300, help="steps per device (run)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads (run)")
    args = parser.parse_args(argv)
    if args.mode == "prepare":
        prepare(args.bundle, args.capture, args.preset)
        return 0
    return run(args.bundle, args.preset, args.steps, args.threads)


if __name__ == "__main__":
    sys.exit(main())
