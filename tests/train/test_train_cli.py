"""``lerf3d train`` end to end on the tiny room: checkpoints, previews, TensorBoard, resume."""

from __future__ import annotations

import json

import torch
from PIL import Image

from lerf3d.field.rays import image_rays
from lerf3d.fusion import load_points
from lerf3d.train import latest_checkpoint, load_checkpoint, load_trained_field
from lerf3d_cli.main import main


def test_cli_train_writes_checkpoints_previews_and_resumes(tiny_scene, tiny_room, tmp_path, capsys):
    spec = f"lerf3d:tiny@{tiny_scene.towers}"
    args = ["train", str(tiny_room), "--preset", "tiny", "--out", str(tmp_path), "--steps", "12",
            "--image-text", spec, "--dense", spec, "--features-dir", str(tiny_scene.features_dir),
            "--set", "logging.progress=false"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "24 from cache" in out  # the session's feature files were reused
    assert "trained 12 steps to step 12" in out and "held-out (3 frames): PSNR" in out and "depth error" in out
    checkpoints = tmp_path / "checkpoints"
    assert (checkpoints / "latest").read_text().strip() == "step-000012.ckpt"
    previews = sorted(p.name for p in (tmp_path / "eval").glob("*.png"))
    assert previews == [f"frame_{i:05d}_{kind}.png" for i in (0, 4, 8) for kind in ("depth", "rgb")]
    assert Image.open(tmp_path / "eval" / "frame_00004_rgb.png").size == (2 * 96, 72)  # truth | render
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["step"] == 12 and len(metrics["frames"]) == 3
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "fusion" / "bounds.json").is_file()

    # --resume reads the checkpoint's config; --steps extends the run
    assert main(args[:-2] + ["--resume", "--steps", "15", "--preset", "default"]) == 0
    assert "resumed at step 12, 3 steps to step 15" in capsys.readouterr().out
    assert load_checkpoint(latest_checkpoint(checkpoints)).config["data"]["rays_per_batch"] == 1024  # tiny's

    # the checkpoint rebuilds the trained field for the query side, occupancy grid included
    points = load_points(tmp_path / "fusion" / "points.ply")
    model, checkpoint = load_trained_field(latest_checkpoint(checkpoints), points=points)
    assert checkpoint.step == 15 and checkpoint.meta["capture"] == str(tiny_room)
    assert model.language.config.clip_dim == 384 and not model.training and model.occupancy is not None
    frame = tiny_scene.capture.frames[4]
    rays = image_rays(frame.intrinsics, torch.tensor(frame.camera_to_world, dtype=torch.float32), 0.05, 8.0)
    with torch.no_grad():
        out = model.render_rays(rays, clip_scale=0.5)
    assert out.rgb.shape == (96 * 72, 3) and out.clip.shape == (96 * 72, 384)
