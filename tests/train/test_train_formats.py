"""``lerf3d train`` (tiny preset, a few steps) on every format, from captures written by test code
from the formats' public descriptions: ScanNet and Record3D once crashed here with
"expected scalar type Float but found Double" (float64 intrinsics reaching the ray tensors).
Also one- and two-view captures: the split and what the report calls held out."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from lerf3d_cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "capture"))  # the spec writers live there
from spec_formats import TUM_CAMERA_ARGUMENT, WRITERS, analytic_views, write_nerfstudio

STEPS = 3


@pytest.fixture(scope="module")
def views():
    return analytic_views(6)


def train_args(capture: Path, run: Path, towers: Path) -> list[str]:
    spec = f"lerf3d:tiny@{towers}"
    return ["train", str(capture), "--preset", "tiny", "--out", str(run), "--steps", str(STEPS),
            "--image-text", spec, "--dense", spec, "--set", "logging.progress=false",
            "--set", "logging.tensorboard=false", "--set", "features.show_progress=false"]


@pytest.mark.parametrize("format_name", sorted(WRITERS))
def test_every_format_trains(format_name, views, tiny_towers, tmp_path, capsys):
    capture = WRITERS[format_name](views, tmp_path / "capture")
    args = train_args(capture, tmp_path / "run", tiny_towers)
    if format_name == "tum":
        args += ["--intrinsics", TUM_CAMERA_ARGUMENT]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"capture: 6 frames ({format_name}); intrinsics fx=50 fy=52 cx=31.5 cy=24.25 (64x48)" in out
    assert f"trained {STEPS} steps to step {STEPS}" in out and "held-out (2 frames): PSNR" in out
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert metrics["step"] == STEPS and len(metrics["frames"]) == 2
    assert all(math.isfinite(v) for v in (metrics["psnr"], metrics["depth_abs_error_m"]))


def test_one_view_fails_before_any_output_and_names_the_fix(views, tiny_towers, tmp_path, capsys):
    capture = write_nerfstudio(views[:1], tmp_path / "one")
    run = tmp_path / "run"
    assert main(train_args(capture, run, tiny_towers)) == 2
    err = capsys.readouterr().err
    assert "1 frame: eval_every=4" in err and "--set data.eval_every=0" in err
    assert not (run / "fusion").exists() and not (run / "features").exists()

    # with the hold-out switched off it trains, and the report does not call its frame held out
    assert main(train_args(capture, run, tiny_towers) + ["--set", "data.eval_every=0"]) == 0
    out = capsys.readouterr().out
    assert "training frames (1; none held out: eval_every=0): PSNR" in out and "held-out" not in out


def test_two_views_both_train(views, tiny_towers, tmp_path, capsys):
    capture = write_nerfstudio(views[:2], tmp_path / "two")
    assert main(train_args(capture, tmp_path / "run", tiny_towers)) == 0
    out = capsys.readouterr().out
    assert "training frames (2; none held out: captures of fewer than 4 frames hold none out): PSNR" in out


def test_a_run_reopens_its_capture_with_the_intrinsics_it_was_trained_with(views, tiny_towers, tmp_path):
    from lerf3d.query.checkpoint import open_scene

    capture = WRITERS["tum"](views, tmp_path / "capture")  # a folder name that names no Freiburg sensor
    args = train_args(capture, tmp_path / "run", tiny_towers) + ["--intrinsics", TUM_CAMERA_ARGUMENT, "--no-objects"]
    assert main(args) == 0
    scene = open_scene(tmp_path / "run", image_text=f"lerf3d:tiny@{tiny_towers}")
    k = scene.capture.frames[0].intrinsics
    assert (k.fx, k.fy, k.cx, k.cy) == (50.0, 52.0, 31.5, 24.25)
