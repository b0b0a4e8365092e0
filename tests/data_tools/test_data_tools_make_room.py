"""End to end: a tiny generated room is a valid nerfstudio capture whose depth, poses, masks and
ground-truth boxes agree to the millimetre, and generation is deterministic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_tools.attributes import COLOURS, MATERIAL_WORDS
from data_tools.catalogues import CATALOGUES, FURNITURE_DIR
from data_tools.config import RoomConfig
from data_tools.make_room import build_parser, config_from_args, generate_room, main
from data_tools.room_kinds import ROOM_KINDS
from lerf3d.capture.io import load_depth
from lerf3d.capture.nerfstudio import read_nerfstudio
from lerf3d.geometry import backproject_depth

BOX_TOLERANCE_M = 0.01
"""Back-projected points may leave their box by this much: 0.5 mm depth rounding plus margin."""


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _instance_points(folder: Path) -> dict[int, np.ndarray]:
    """World points of every instance over all frames, from depth + intrinsics + pose + mask."""
    capture = read_nerfstudio(folder)
    gt = json.loads((folder / "ground_truth.json").read_text())
    points: dict[int, list[np.ndarray]] = {}
    for frame in capture.frames:
        depth = load_depth(frame)
        mask = np.asarray(Image.open(folder / gt["frames"][frame.name]["mask_path"]), dtype=np.int64)
        assert (depth > 0).all(), f"{frame.name}: the closed room leaves no pixel without depth"
        assert (mask > 0).all(), f"{frame.name}: every pixel belongs to an instance"
        world = backproject_depth(depth, frame.intrinsics, frame.camera_to_world)
        for iid in np.unique(mask):
            points.setdefault(int(iid), []).append(world[mask == iid])
    return {iid: np.concatenate(chunks) for iid, chunks in points.items()}


def test_files_and_image_formats(tiny_room, tiny_config):
    out = tiny_room.out_dir
    n, w, h = tiny_config.num_views, tiny_config.width, tiny_config.height
    for kind, mode in (("images", "RGB"), ("depth", "I;16"), ("masks", "I;16")):
        names = sorted(p.name for p in (out / kind).iterdir())
        assert names == [f"frame_{i:05d}.png" for i in range(n)]
        with Image.open(out / kind / names[0]) as img:
            assert img.mode == mode and img.size == (w, h)


def test_transforms_json_is_nerfstudio_with_opengl_poses(tiny_room):
    meta = json.loads((tiny_room.out_dir / "transforms.json").read_text())
    intr = tiny_room.intrinsics
    assert meta["camera_model"] == "OPENCV" and meta["depth_unit_scale_factor"] == 0.001
    assert (meta["fl_x"], meta["fl_y"], meta["cx"], meta["cy"], meta["w"], meta["h"]) == (
        intr.fx,
        intr.fy,
        intr.cx,
        intr.cy,
        intr.width,
        intr.height,
    )
    frame = meta["frames"][4]
    assert (
        frame["file_path"] == "images/frame_00004.png" and frame["depth_file_path"] == "depth/frame_00004.png"
    )
    gl = np.asarray(frame["transform_matrix"])
    np.testing.assert_allclose(gl, tiny_room.poses[4] @ np.diag([1.0, -1.0, -1.0, 1.0]))
    # lerf3d's own reader gives back the exact OpenCV poses
    capture = read_nerfstudio(tiny_room.out_dir)
    np.testing.assert_allclose(
        np.stack([f.camera_to_world for f in capture.frames]), tiny_room.poses, atol=1e-12
    )


def test_ground_truth_lists_every_instance(tiny_room, tiny_config):
    gt = json.loads((tiny_room.out_dir / "ground_truth.json").read_text())
    assert gt["scene"] == "room_3" and gt["seed"] == tiny_config.seed
    labels = [o["label"] for o in gt["objects"]]
    assert labels[:6] == ["floor", "wall", "wall", "wall", "wall", "ceiling"]
    furniture = [o for o in gt["objects"] if o["category"] != "structure"]
    assert len(furniture) == len(tiny_room.layout.objects) >= tiny_config.num_objects
    for o in furniture:
        assert o["model_split"] in ("train", "held-out") and o["catalog_id"]
        assert "colour" not in o  # attribute words come with the opt-in vocabulary (--catalogues)
        assert all(lo < hi for lo, hi in zip(o["box_min"], o["box_max"], strict=True))
        np.testing.assert_allclose(o["center"], np.add(o["box_min"], o["box_max"]) / 2)
    frame = gt["frames"]["frame_00011"]
    assert frame["mask_path"] == "masks/frame_00011.png"
    mask = np.asarray(Image.open(tiny_room.out_dir / frame["mask_path"]))
    assert frame["instance_ids"] == [int(i) for i in np.unique(mask) if i > 0]


def test_depth_and_poses_put_points_on_the_known_surfaces(tiny_room):
    points = _instance_points(tiny_room.out_dir)
    sx, sy, sz = tiny_room.layout.size
    # floor z = 0, ceiling z = height, wall x = -sx/2: within depth rounding (0.5 mm) and a bit
    assert np.abs(points[1][:, 2]).max() < 2e-3
    if 6 in points:
        assert np.abs(points[6][:, 2] - sz).max() < 2e-3
    for iid, axis, value in ((2, 0, -sx / 2), (3, 0, sx / 2), (4, 1, -sy / 2), (5, 1, sy / 2)):
        if iid in points:
            assert np.abs(points[iid][:, axis] - value).max() < 2e-3, f"wall {iid}"


def test_masks_back_project_into_their_ground_truth_boxes(tiny_room):
    gt = json.loads((tiny_room.out_dir / "ground_truth.json").read_text())
    boxes = {o["instance_id"]: (np.asarray(o["box_min"]), np.asarray(o["box_max"])) for o in gt["objects"]}
    points = _instance_points(tiny_room.out_dir)
    assert set(points) <= set(boxes)
    seen_furniture = [iid for iid in points if iid >= 7]
    assert len(seen_furniture) >= len(tiny_room.layout.objects) - 1  # a small item may hide in 12 views
    for iid, pts in points.items():
        lo, hi = boxes[iid]
        inside = np.all((pts >= lo - BOX_TOLERANCE_M) & (pts <= hi + BOX_TOLERANCE_M), axis=1)
        assert inside.mean() >= 0.99, f"instance {iid}: {inside.mean():.3f} of {len(pts)} points in its box"


def test_same_seed_gives_identical_files(tiny_room, tiny_config, tmp_path):
    again = generate_room(tiny_config, tmp_path / "again")
    assert _files(again.out_dir) == _files(tiny_room.out_dir)


def test_primitive_fallback_room(tmp_path):
    config = RoomConfig.preset("tiny", seed=1, primitives_only=True, num_views=4)
    room = generate_room(config, tmp_path / "prims")
    gt = json.loads((room.out_dir / "ground_truth.json").read_text())
    assert gt["source"] == "primitives"
    assert {o["label"] for o in gt["objects"]} <= {"floor", "wall", "ceiling", "box", "cylinder", "sphere"}
    points = _instance_points(room.out_dir)
    boxes = {o["instance_id"]: (np.asarray(o["box_min"]), np.asarray(o["box_max"])) for o in gt["objects"]}
    for iid, pts in points.items():
        lo, hi = boxes[iid]
        assert np.all((pts >= lo - BOX_TOLERANCE_M) & (pts <= hi + BOX_TOLERANCE_M), axis=1).mean() >= 0.99


def test_cli_writes_a_capture(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "--preset",
            "tiny",
            "--seed",
            "2",
            "--views",
            "3",
            "--width",
            "48",
            "--height",
            "36",
            "--primitives",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "wrote 3 views (48x36)" in capsys.readouterr().out
    assert len(json.loads((out / "transforms.json").read_text())["frames"]) == 3


def test_cli_module_entry_and_bad_arguments(tmp_path):
    out = tmp_path / "module"
    cmd = [
        sys.executable,
        "-m",
        "data_tools.make_room",
        "--preset",
        "tiny",
        "--views",
        "2",
        "--primitives",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (out / "ground_truth.json").is_file()
    assert main(["--preset", "tiny", "--views", "0", "--out", str(tmp_path / "bad")]) == 2
    assert main(["--preset", "huge", "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()


def _config(*argv: str) -> RoomConfig:
    return config_from_args(build_parser().parse_args(["--out", "unused", *argv]))


def test_cli_flags_then_set_overrides():
    config = _config("--preset", "demo", "--seed", "4", "--views", "5", "--set", "num_views=6",
                     "--set", "camera_height_range=[1.2, 1.5]", "--set", "room=kitchen", "--primitives")
    assert config == RoomConfig.preset(
        "demo", seed=4, num_views=6, camera_height_range=(1.2, 1.5), room="kitchen", primitives_only=True
    )
    assert _config() == RoomConfig.preset("tiny") and _config().seed == 0


def test_cli_bad_presets_and_overrides_are_one_line_errors(tmp_path, capsys):
    cases = [
        (["--preset", "tinny"], "error: unknown preset 'tinny' (did you mean tiny?); presets: demo, large, tiny"),
        (["--set", "wall_hieght=3"], "error: override wall_hieght=3: unknown key 'wall_hieght'; did you mean wall_height?"),
        (["--set", "num_views=0"], "error: override num_views=0: num_views must be >= 1, got 0"),
        (["--set", "camera_height_range=[1.2]"], "error: override: camera_height_range must have 2 entries, got 1"),
        (["--set", "room"], "error: override 'room' must look like key=value"),
    ]
    for argv, message in cases:
        assert main([*argv, "--primitives", "--out", str(tmp_path / "bad")]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "bad").exists()


@pytest.mark.skipif(
    not all((FURNITURE_DIR / f"{n}.sh3f").is_file() for n in CATALOGUES), reason="sweethome3d-furniture absent"
)
def test_cli_kitchen_from_all_catalogues_is_a_valid_capture(tmp_path, capsys):
    out = tmp_path / "kitchen"
    args = ["--preset", "tiny", "--seed", "1", "--views", "3", "--width", "48", "--height", "36"]
    assert main([*args, "--room", "kitchen", "--catalogues", "all", "--out", str(out)]) == 0
    assert "[fridge, " in capsys.readouterr().out  # the first anchor of a kitchen
    gt = json.loads((out / "ground_truth.json").read_text())
    assert gt["source"].startswith("sweethome3d:BlendSwap-CC-0.sh3f+") and "Scopia.sh3f" in gt["source"]
    kitchen = ROOM_KINDS["kitchen"]
    furniture = [o for o in gt["objects"] if o["category"] != "structure"]
    for o in furniture:
        assert kitchen.allows_floor(o["label"]) or o["label"] in kitchen.tabletop, o["label"]
        assert o["licence"] in ("CC0", "CC-BY-3.0", "CC-BY-3.0-USA") and o["author"] and o["source"], o
        assert o["catalogue"] in CATALOGUES and o["model_split"] in ("train", "held-out")
        assert o["colour"] in COLOURS + (None,) and o["material"] in tuple(MATERIAL_WORDS) + (None,), o
    assert all(o["colour"] for o in furniture)  # every kitchen model of seed 1 has a decided colour
    boxes = {o["instance_id"]: (np.asarray(o["box_min"]), np.asarray(o["box_max"])) for o in gt["objects"]}
    for iid, pts in _instance_points(out).items():
        lo, hi = boxes[iid]
        assert np.all((pts >= lo - BOX_TOLERANCE_M) & (pts <= hi + BOX_TOLERANCE_M), axis=1).mean() >= 0.99


def test_cli_rejects_unknown_catalogues_and_rooms_primitives_cannot_furnish(tmp_path, capsys):
    assert main(["--catalogues", "Ikea", "--out", str(tmp_path / "a")]) == 2
    assert "unknown catalogue(s) ['Ikea']" in capsys.readouterr().err
    assert main(["--room", "kitchen", "--primitives", "--out", str(tmp_path / "b")]) == 2
    assert "no floor models for a kitchen" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(SystemExit):
        main(["--room", "garage", "--out", str(tmp_path / "c")])
