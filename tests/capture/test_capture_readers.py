"""Format-specific reader behaviour on small hand-written captures (conventions, quirks, defaults)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from capture_formats import write_scannet, write_tum
from PIL import Image

from lerf3d.capture import CaptureError, detect_format, load_capture, load_depth
from lerf3d.capture.record3d import read_record3d
from lerf3d.capture.replica import REPLICA_INTRINSICS, read_replica
from lerf3d.capture.tum import FREIBURG1_INTRINSICS, read_tum
from lerf3d.types import Intrinsics


def save_rgb(path: Path, width: int = 64, height: int = 48) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(path)


def write_record3d_folder(root: Path, depth_bytes: bytes, pose: list[float]) -> Path:
    """A one-frame Record3D folder: 64x48 RGB, 16x12 depth, fx=50 fy=51 cx=31 cy=23."""
    save_rgb(root / "rgbd" / "0.jpg")
    (root / "rgbd" / "0.depth").write_bytes(depth_bytes)
    k_column_major = [50.0, 0.0, 0.0, 0.0, 51.0, 0.0, 31.0, 23.0, 1.0]
    meta = {"w": 64, "h": 48, "dw": 16, "dh": 12, "K": k_column_major, "poses": [pose], "fps": 60}
    (root / "metadata").write_text(json.dumps(meta))
    return root


def test_record3d_arkit_pose_becomes_opencv_in_z_up_world(tmp_path):
    """An ARKit camera 1.5 m above the floor (y up), unrotated: it looks along -z_arkit, level."""
    depth = np.full((12, 16), 2.0, dtype="<f4")
    root = write_record3d_folder(tmp_path / "r3d", depth.tobytes(), [0, 0, 0, 1, 0.5, 1.5, -2.0])
    capture = load_capture(root)
    frame = capture.frames[0]
    pose = frame.camera_to_world
    np.testing.assert_allclose(pose[:3, 3], [0.5, 2.0, 1.5])  # height 1.5 is now z
    np.testing.assert_allclose(pose[:3, 2], [0.0, 1.0, 0.0], atol=1e-12)  # looks level (OpenCV +z)
    np.testing.assert_allclose(pose[:3, 1], [0.0, 0.0, -1.0], atol=1e-12)  # image down = gravity
    k = frame.intrinsics
    assert (k.fx, k.fy, k.cx, k.cy, k.width, k.height) == (50, 51, 31, 23, 64, 48)
    np.testing.assert_array_equal(load_depth(frame), depth)  # raw float32 read without LZFSE


def test_record3d_compressed_depth_without_lzfse_names_the_package(tmp_path, monkeypatch):
    root = write_record3d_folder(tmp_path / "r3d", b"bvx2" + bytes(40), [0, 0, 0, 1, 0, 0, 0])
    monkeypatch.setitem(sys.modules, "liblzfse", None)  # makes `import liblzfse` fail
    frame = read_record3d(root).frames[0]
    with pytest.raises(CaptureError, match=r"0\.depth: LZFSE-compressed .* 'pyliblzfse'"):
        load_depth(frame)


def test_record3d_depth_of_wrong_size_is_reported(tmp_path):
    root = write_record3d_folder(tmp_path / "r3d", bytes(100), [0, 0, 0, 1, 0, 0, 0])
    with pytest.raises(CaptureError, match=r"0\.depth: 100 bytes is neither LZFSE data nor a raw 16x12"):
        load_depth(read_record3d(root).frames[0])


def test_nerfstudio_conventions_and_per_frame_intrinsics(tmp_path):
    save_rgb(tmp_path / "images" / "a.png")
    save_rgb(tmp_path / "images" / "b.png")
    Image.fromarray(np.full((48, 64), 10000, np.uint16)).save(tmp_path / "a_depth.png")
    gl_identity_3x4 = np.eye(4)[:3].tolist()
    meta = {
        "fl_x": 50.0, "fl_y": 50.0, "cx": 32.0, "cy": 24.0,  # no w/h: taken from the image
        "depth_unit_scale_factor": 0.0002,
        "frames": [
            {
                "file_path": "images/a.png",
                "depth_file_path": "a_depth.png",
                "transform_matrix": gl_identity_3x4,
            },
            {"file_path": "images/b.png", "transform_matrix": np.eye(4).tolist(), "fl_x": 60.0},
        ],
    }
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    capture = load_capture(tmp_path / "transforms.json", check_images=False)
    a, b = capture.frames
    np.testing.assert_array_equal(a.camera_to_world, np.diag([1.0, -1.0, -1.0, 1.0]))  # GL -> CV
    assert (a.intrinsics.width, a.intrinsics.height, a.intrinsics.fx) == (64, 48, 50.0)
    assert b.intrinsics.fx == 60.0 and b.depth_path is None and not capture.has_depth
    assert load_depth(a)[0, 0] == pytest.approx(2.0)  # 10000 units * 0.0002 m


def test_scannet_skips_lost_tracking_and_orders_numerically(synthetic_capture, tmp_path):
    root = write_scannet(synthetic_capture, tmp_path / "scene0000_00")
    (root / "pose" / "3.txt").write_text("-inf -inf -inf -inf\n" * 4)  # SensReader's lost-tracking pose
    capture = load_capture(root)
    assert [f.name for f in capture.frames] == ["0", "1", "2", "4", "5"]
    assert capture.metadata["skipped_frames"] == "1"


def test_scannet_depth_smaller_than_colour(synthetic_capture, tmp_path):
    """ScanNet's normal case: load_depth keeps the depth file's own resolution."""
    root = write_scannet(synthetic_capture, tmp_path / "scannet")
    for png in (root / "depth").glob("*.png"):
        Image.open(png).resize((32, 24), Image.NEAREST).save(png)
    frame = load_capture(root).frames[0]
    assert load_depth(frame).shape == (24, 32)
    assert frame.intrinsics.width == 64


def test_tum_association_tolerance_and_default_camera(tmp_path):
    tmp_path = tmp_path / "rgbd_dataset_freiburg1_desk"  # TUM's naming: the sensor picks the calibration
    for name in ("rgb/1.000000.png", "rgb/2.000000.png", "rgb/3.000000.png"):
        save_rgb(tmp_path / name, 8, 6)
    (tmp_path / "depth").mkdir()
    for stamp in ("1.010000", "2.030000", "3.015000"):
        Image.fromarray(np.full((6, 8), 10000, np.uint16)).save(tmp_path / "depth" / f"{stamp}.png")
    (tmp_path / "rgb.txt").write_text(
        "# color\n1.0 rgb/1.000000.png\n2.0 rgb/2.000000.png\n3.0 rgb/3.000000.png\n"
    )
    (tmp_path / "depth.txt").write_text(
        "1.01 depth/1.010000.png\n2.03 depth/2.030000.png\n3.015 depth/3.015000.png\n"
    )
    truth = [f"{t:.2f} {t:.2f} 0 1 0 0 0 1" for t in np.arange(0.9, 3.1, 0.01)]  # 100 Hz
    (tmp_path / "groundtruth.txt").write_text("\n".join(truth) + "\n")
    capture = read_tum(tmp_path)
    assert [f.name for f in capture.frames] == ["1.000000", "3.000000"]  # 2.03 s depth is too late
    assert capture.metadata["unmatched_frames"] == "1"
    np.testing.assert_allclose(capture.frames[1].camera_to_world[:3, 3], [3.0, 0.0, 1.0])
    assert capture.frames[0].intrinsics == FREIBURG1_INTRINSICS
    assert load_depth(capture.frames[0])[0, 0] == pytest.approx(2.0)  # 10000 / 5000


def test_tum_camera_file_and_argument_override(synthetic_capture, tmp_path):
    root = write_tum(synthetic_capture, tmp_path / "tum")
    assert read_tum(root).frames[0].intrinsics == synthetic_capture.frames[0].intrinsics  # camera.txt
    other = Intrinsics(40.0, 40.0, 32.0, 24.0, 64, 48)
    assert load_capture(root, intrinsics=other).frames[0].intrinsics == other


def test_replica_default_camera_without_cam_params(tmp_path):
    save_rgb(tmp_path / "results" / "frame000000.jpg", 1200, 680)
    Image.fromarray(np.full((680, 1200), 13107, np.uint16)).save(tmp_path / "results" / "depth000000.png")
    (tmp_path / "traj.txt").write_text(" ".join(str(v) for v in np.eye(4).reshape(-1)) + "\n")
    capture = load_capture(tmp_path)
    assert capture.frames[0].intrinsics == REPLICA_INTRINSICS
    assert load_depth(capture.frames[0])[0, 0] == pytest.approx(2.0)  # 13107 / 6553.5
    override = Intrinsics(500.0, 500.0, 600.0, 340.0, 1200, 680)
    assert read_replica(tmp_path, intrinsics=override).frames[0].intrinsics == override


def test_detect_format_explains_what_it_looked_for(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(CaptureError, match="unrecognised capture; expected transforms.json"):
        detect_format(tmp_path / "stuff")
    with pytest.raises(CaptureError, match="no such file"):
        load_capture(tmp_path / "absent")


def test_intrinsics_override_replaces_a_stated_camera_and_says_so(synthetic_capture, tmp_path):
    """--intrinsics applies to every format (a user may have a better calibration than the files)."""
    root = write_scannet(synthetic_capture, tmp_path / "scannet")
    assert load_capture(root).metadata["intrinsics"].endswith("intrinsic_color.txt")
    other = Intrinsics(40.0, 41.0, 32.0, 24.0, 64, 48)
    capture = load_capture(root, intrinsics=other)
    assert {f.intrinsics for f in capture.frames} == {other}
    assert capture.metadata["intrinsics"] == "fx=40 fy=41 cx=32 cy=24 (64x48) from the intrinsics argument"
