"""--intrinsics, the camera each reader picks and says it picked, and frames dropped for want of a pose."""

from __future__ import annotations

import json

import pytest
from spec_formats import TUM_CAMERA_ARGUMENT, analytic_views, write_replica, write_scannet, write_tum

from lerf3d.capture import CaptureError, frames_summary, load_capture, parse_intrinsics
from lerf3d.capture.tum import FREIBURG_INTRINSICS
from lerf3d.types import Intrinsics
from lerf3d_cli.main import main


@pytest.fixture(scope="module")
def views():
    return analytic_views(6)


def test_parse_intrinsics_from_text_and_json(tmp_path):
    camera = parse_intrinsics("500, 501.5,320,240")
    assert (camera.fx, camera.fy, camera.cx, camera.cy, camera.width) == (500.0, 501.5, 320.0, 240.0, None)
    path = tmp_path / "camera.json"
    path.write_text(json.dumps({"fx": 50, "fy": 52, "cx": 31.5, "cy": 24.25, "w": 64, "h": 48}))
    from_file = parse_intrinsics(str(path))
    assert (from_file.width, from_file.height, from_file.source) == (64, 48, str(path))
    with pytest.raises(CaptureError, match=r"--intrinsics '1,2,3': expected fx,fy,cx,cy"):
        parse_intrinsics("1,2,3")
    with pytest.raises(CaptureError, match=r"--intrinsics '1,x,3,4': fy must be a number, got 'x'"):
        parse_intrinsics("1,x,3,4")
    path.write_text(json.dumps({"fx": 50, "fy": 52, "cx": 31.5}))
    with pytest.raises(CaptureError, match=r"camera\.json: cy must be a number, got None"):
        parse_intrinsics(str(path))


@pytest.mark.parametrize("sensor", [1, 2, 3])
def test_tum_calibration_follows_the_sequence_name(views, tmp_path, sensor):
    root = write_tum(views, tmp_path / f"rgbd_dataset_freiburg{sensor}_xyz")
    capture = load_capture(root, validate=False)
    assert {f.intrinsics for f in capture.frames} == {FREIBURG_INTRINSICS[sensor]}
    assert capture.metadata["intrinsics"].endswith(
        f"from TUM's Freiburg {sensor} calibration (folder name rgbd_dataset_freiburg{sensor}_xyz)"
    )
    # these frames are 64x48, not the sensor's 640x480: validation says whose camera it assumed
    with pytest.raises(CaptureError, match=rf"640x480 \(intrinsics .*Freiburg {sensor}.*\); pass .*--intrinsics"):
        load_capture(root)


def test_tum_without_a_sensor_name_refuses_to_guess(views, tmp_path, capsys):
    root = write_tum(views, tmp_path / "my_kitchen")
    with pytest.raises(CaptureError, match=r"my_kitchen: TUM files do not state the camera.*--intrinsics fx,fy,cx,cy"):
        load_capture(root)
    out = tmp_path / "out"
    assert main(["fuse", str(root), "--out", str(out), "--intrinsics", TUM_CAMERA_ARGUMENT]) == 0
    printed = capsys.readouterr().out
    assert "fused 6 frames (tum)" in printed


def test_cli_rejects_bad_intrinsics_with_the_reason(views, tmp_path, capsys):
    root = write_tum(views, tmp_path / "seq")
    with pytest.raises(SystemExit) as exit_:
        main(["fuse", str(root), "--out", str(tmp_path / "out"), "--intrinsics", "50,52"])
    assert exit_.value.code == 2
    assert "expected fx,fy,cx,cy (4 numbers) or a JSON file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_replica_cam_params_in_the_scene_or_the_download_folder(views, tmp_path):
    scene = write_replica(views, tmp_path / "Replica")
    assert load_capture(scene).metadata["intrinsics"].endswith(f"from {tmp_path / 'Replica' / 'cam_params.json'}")
    (tmp_path / "Replica" / "cam_params.json").rename(scene / "cam_params.json")
    assert load_capture(scene).metadata["intrinsics"].endswith(f"from {scene / 'cam_params.json'}")
    (scene / "cam_params.json").unlink()
    with pytest.raises(CaptureError, match=r"1200x680 \(intrinsics .*NICE-SLAM's Replica camera"):
        load_capture(scene)
    camera = Intrinsics(50.0, 52.0, 31.5, 24.25, 64, 48)
    assert load_capture(scene, intrinsics=camera).frames[0].intrinsics == camera


def test_dropped_colour_frames_are_reported(views, tmp_path, capsys):
    root = write_tum(views, tmp_path / "seq", without_pose=2)
    capture = load_capture(root, intrinsics=parse_intrinsics(TUM_CAMERA_ARGUMENT))
    stamps = sorted(p.stem for p in (root / "rgb").iterdir())
    assert frames_summary(capture) == f"4 of 6 frames; 2 without a pose within 0.02 s: {stamps[4]}, {stamps[5]}"
    assert main(["fuse", str(root), "--out", str(tmp_path / "out"), "--intrinsics", TUM_CAMERA_ARGUMENT]) == 0
    assert "fused 4 of 6 frames; 2 without a pose within 0.02 s" in capsys.readouterr().out

    scannet = write_scannet(views, tmp_path / "scannet")
    (scannet / "pose" / "5.txt").unlink()
    (scannet / "pose" / "2.txt").write_text("-inf -inf -inf -inf\n" * 4)
    assert frames_summary(load_capture(scannet)) == (
        "4 of 6 frames; 1 without a pose file: 5; 1 with lost tracking (-inf pose): 2"
    )


def test_sequence_and_download_folders_are_found_from_inside(views, tmp_path, monkeypatch):
    """``lerf3d fuse .`` inside the sequence folder: "." names no sensor, the folder it stands for does."""
    tum = write_tum(views, tmp_path / "rgbd_dataset_freiburg3_office")
    monkeypatch.chdir(tum)
    assert "Freiburg 3" in load_capture(".", validate=False).metadata["intrinsics"]
    scene = write_replica(views, tmp_path / "Replica")
    monkeypatch.chdir(scene)
    assert load_capture(".").metadata["intrinsics"].endswith(f"from {tmp_path / 'Replica' / 'cam_params.json'}")


@pytest.mark.parametrize("command", ["fuse", "features", "train"])
def test_every_capture_command_takes_intrinsics(command):
    from lerf3d_cli.main import build_parser

    args = build_parser().parse_args([command, "capture", "--out", "out", "--intrinsics", TUM_CAMERA_ARGUMENT])
    assert (args.intrinsics.fx, args.intrinsics.cy, args.intrinsics.source) == (
        50.0, 24.25, f"--intrinsics {TUM_CAMERA_ARGUMENT}"
    )
