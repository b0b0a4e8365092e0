"""``lerf3d train`` (tiny preset, a few steps) on every format, from captures written by test code
from the formats' public descriptions: ScanNet and Record3D once crashed here with
"expected scalar type Float but found Double" (float64 intrinsics reaching the ray tensors)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from lerf3d.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "capture"))  # the spec writers live there
from spec_formats import TUM_CAMERA_ARGUMENT, WRITERS, analytic_views  # noqa: E402

STEPS = 3


@pytest.fixture(scope="module")
def views():
    return analytic_views(6)


@pytest.mark.parametrize("format_name", sorted(WRITERS))
def test_every_format_trains(format_name, views, tiny_towers, tmp_path, capsys):
    capture = WRITERS[format_name](views, tmp_path / "capture")
    spec = f"lerf3d:tiny@{tiny_towers}"
    args = ["train", str(capture), "--preset", "tiny", "--out", str(tmp_path / "run"), "--steps", str(STEPS),
            "--image-text", spec, "--dense", spec, "--set", "logging.progress=false",
            "--set", "logging.tensorboard=false", "--set", "features.show_progress=false"]
    if format_name == "tum":
        args += ["--intrinsics", TUM_CAMERA_ARGUMENT]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"capture: 6 frames ({format_name}); intrinsics fx=50 fy=52 cx=31.5 cy=24.25 (64x48)" in out
    assert f"trained {STEPS} steps to step {STEPS}" in out and "held-out (2 frames): PSNR" in out
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert metrics["step"] == STEPS and len(metrics["frames"]) == 2
    assert all(math.isfinite(v) for v in (metrics["psnr"], metrics["depth_abs_error_m"]))
