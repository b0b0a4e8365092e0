"""transforms.json that is hostile or malformed: one CaptureError naming the file and the field,
raised before any image outside the capture folder is opened."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from spec_formats import analytic_views, write_nerfstudio

import lerf3d.capture.files as capture_files
from lerf3d.capture import CaptureError, load_capture
from lerf3d_cli.main import main


@pytest.fixture
def capture_dir(tmp_path):
    return write_nerfstudio(analytic_views(2), tmp_path / "capture")


def edit_transforms(folder, change) -> None:
    path = folder / "transforms.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps(change(meta)))


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Every file the capture code reads (all reads go through files.read_bytes)."""
    paths: list[str] = []
    real = capture_files.read_bytes

    def spy(path):
        paths.append(str(path))
        return real(path)

    monkeypatch.setattr(capture_files, "read_bytes", spy)
    return paths


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("file_path", "../outside.png", "leads outside the capture folder"),
        ("file_path", "images/../../outside.png", "leads outside the capture folder"),
        ("file_path", "/etc/passwd", "is an absolute path"),
        ("depth_file_path", "../outside.png", "leads outside the capture folder"),
    ],
)
def test_paths_escaping_the_capture_are_refused_before_opening(capture_dir, opened, key, value, problem):
    # a real image outside: before the fix it was fused silently
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(capture_dir.parent / "outside.png")

    def escape(meta):
        meta["frames"][1][key] = value
        return meta

    edit_transforms(capture_dir, escape)
    with pytest.raises(CaptureError) as err:
        load_capture(capture_dir)
    message = str(err.value)
    assert message.startswith(f"{capture_dir / 'transforms.json'}: frames[1].{key}: {value!r} {problem}")
    assert not any("outside" in p or p.startswith("/etc") for p in opened)


def test_a_link_inside_the_folder_is_allowed(capture_dir):
    """Captures often link their images from elsewhere: the check is on the written path only."""
    target = capture_dir.parent / "elsewhere.png"
    (capture_dir / "images" / "frame_00002.png").rename(target)
    (capture_dir / "images" / "frame_00002.png").symlink_to(target)
    assert len(load_capture(capture_dir).frames) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ([1, 2, 3], "expected a JSON object with a 'frames' list, got a list"),
        ({"fl_x": 50, "frames": [1, 2, 3]}, "frames[0] is 1, expected an object with file_path"),
        ({"frames": "none"}, "no 'frames' list"),
        ({"frames": [{"file_path": "images/frame_00001.png", "transform_matrix": 5}]},
         "frames[0].transform_matrix has shape ()"),
        ({"frames": [{"file_path": "images/frame_00001.png", "transform_matrix": [[1, "a"]]}]},
         "frames[0].transform_matrix is not a matrix of numbers"),
        ({"frames": [{"file_path": 7, "transform_matrix": np.eye(4).tolist()}]},
         "frames[0].file_path: expected a relative file path, got 7"),
    ],
)
def test_malformed_structure_names_file_and_field(capture_dir, content, message):
    (capture_dir / "transforms.json").write_text(json.dumps(content))
    with pytest.raises(CaptureError) as err:
        load_capture(capture_dir)
    assert str(err.value).startswith(str(capture_dir / "transforms.json"))
    assert message in str(err.value)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("fl_x", "abc", "fl_x must be a number, got 'abc'"),
        ("cy", None, "has no intrinsics ['cy']"),
        ("w", 64.5, "w must be a positive whole number of pixels, got 64.5"),
        ("h", 1e400, "h must be finite"),
        ("depth_unit_scale_factor", "mm", "depth_unit_scale_factor must be a number, got 'mm'"),
    ],
)
def test_bad_values_name_field_and_file(capture_dir, key, value, message):
    def set_value(meta):
        meta[key] = value
        return meta

    edit_transforms(capture_dir, set_value)
    with pytest.raises(CaptureError, match=r"transforms\.json") as err:
        load_capture(capture_dir)
    assert message in str(err.value)


def test_cli_prints_one_line_and_writes_nothing(capture_dir, tmp_path, capsys):
    edit_transforms(capture_dir, lambda meta: {**meta, "fl_x": "abc"})
    assert main(["fuse", str(capture_dir), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "transforms.json" in err and "fl_x must be a number, got 'abc'" in err
    assert not (tmp_path / "out").exists()
