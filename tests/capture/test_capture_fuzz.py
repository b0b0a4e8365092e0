"""Property-based fuzzing of the five capture readers: whatever the files hold, ``load_capture`` (with
full validation) and loading every frame's pixels either succeed or raise CaptureError naming a
file of the capture; never another exception.

Each example starts from a valid capture written from the format's description (spec_formats.py)
and damages it: a description file replaced by arbitrary JSON or text, one value swapped for an
arbitrary JSON value, one line rewritten, an image or depth file replaced by arbitrary bytes.

CI runs a small fixed number of examples with a fixed seed; a longer run:
``LERF3D_FUZZ_EXAMPLES=10000 python -m pytest tests/capture/test_capture_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz suite needs hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_formats import (
    TUM_CAMERA_ARGUMENT,
    analytic_views,
    write_nerfstudio,
    write_record3d,
    write_replica,
    write_scannet,
    write_tum,
)

from lerf3d.capture import CaptureError, load_capture, load_depth, load_rgb, parse_intrinsics

EXAMPLES = int(os.environ.get("LERF3D_FUZZ_EXAMPLES", "25"))
"""Examples per reader: small in CI (a few seconds each), raised for a longer run."""
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize="LERF3D_FUZZ_EXAMPLES" not in os.environ,  # fixed seed in CI, fresh draws on long runs
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12) | st.sampled_from(["../x.png", "/etc/passwd", "images/frame_00001.png", "1e400", "-inf"]),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=12,
)
"""Any JSON value, with path-like and number-like strings a reader may trip over."""
LINE_TOKENS = [*"0123456789 .-e+\tx#/\\", " ", " ", "inf", "nan", "1e400", "\x00", "é", "../", "rgb/"]
text_lines = st.lists(st.sampled_from(LINE_TOKENS), max_size=30).map("".join)
"""A line of a text format: mostly number-ish, sometimes not."""
any_bytes = st.binary(max_size=300) | st.sampled_from(
    [b"", b"\x89PNG\r\n\x1a\n" + bytes(40), b"bvx2" + bytes(30), b"P6\n", b"P1\n2 2\n"]  # PIL's PPM plugin
)


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    """One valid capture per format (2 views, 32x24), copied before each example damages it."""
    views = analytic_views(2, width=32, height=24)
    base = tmp_path_factory.mktemp("fuzz_templates")
    return {
        "nerfstudio": write_nerfstudio(views, base / "nerfstudio"),
        "record3d": write_record3d(views, base / "r3d" / "scan.r3d"),
        "scannet": write_scannet(views, base / "scannet"),
        "tum": write_tum(views, base / "tum"),
        "replica": write_replica(views, base / "replica"),
    }


def check_reader(capture_path: Path, root: Path, intrinsics: str | None = None) -> None:
    """The property: a usable capture, or a CaptureError whose message names a file under ``root``."""
    try:
        capture = load_capture(capture_path, intrinsics=parse_intrinsics(intrinsics) if intrinsics else None)
        for frame in capture.frames:
            load_rgb(frame)
            if frame.depth_path is not None:
                load_depth(frame)
    except CaptureError as err:
        assert str(root) in str(err), f"the message names no file of the capture: {err}"


def copy_template(template: Path, work: Path) -> Path:
    target = work / template.name
    if template.is_dir():
        shutil.copytree(template, target)
    else:
        shutil.copy(template, target)
    return target


def replace_value(data, path: list, value):
    """``data`` with the value at a path of keys/indices (clamped to what exists) replaced."""
    node = data
    for step in path[:-1]:
        if isinstance(node, dict) and node:
            node = node[sorted(node)[step % len(node)]]
        elif isinstance(node, list) and node:
            node = node[step % len(node)]
    if isinstance(node, dict) and node:
        node[sorted(node)[path[-1] % len(node)]] = value
    elif isinstance(node, list) and node:
        node[path[-1] % len(node)] = value
    return data


json_damage = st.one_of(
    st.tuples(st.just("whole"), json_values),
    st.tuples(st.just("value"), st.tuples(st.lists(st.integers(0, 20), min_size=1, max_size=4), json_values)),
    st.tuples(st.just("bytes"), any_bytes),
)
"""How a JSON description file is damaged: replaced, one value swapped, or raw bytes."""


def damage_json(text: str, damage) -> bytes:
    kind, payload = damage
    if kind == "whole":
        return json.dumps(payload).encode()
    if kind == "value":
        path, value = payload
        return json.dumps(replace_value(json.loads(text), path, value)).encode()
    return payload


def damage_lines(text: str, index: int, line: str) -> str:
    lines = text.splitlines()
    lines[index % len(lines)] = line
    return "\n".join(lines) + "\n"


def damage_file(folder: Path, index: int, content: bytes, pattern: str = "**/*.*") -> None:
    files = sorted(p for p in folder.glob(pattern) if p.is_file())
    files[index % len(files)].write_bytes(content)


@FUZZ_SETTINGS
@given(damage=json_damage, file_index=st.integers(0, 100), file_bytes=st.none() | any_bytes)
def test_nerfstudio_reader(templates, damage, file_index, file_bytes):
    with tempfile.TemporaryDirectory() as work:
        root = copy_template(templates["nerfstudio"], Path(work))
        transforms = root / "transforms.json"
        transforms.write_bytes(damage_json(transforms.read_text(), damage))
        if file_bytes is not None:
            damage_file(root, file_index, file_bytes, "*/*.png")
        check_reader(root, root)


@FUZZ_SETTINGS
@given(damage=json_damage, member_index=st.integers(0, 100), member_bytes=st.none() | any_bytes)
def test_record3d_reader(templates, damage, member_index, member_bytes):
    with tempfile.TemporaryDirectory() as work:
        archive = Path(work) / "scan.r3d"
        with zipfile.ZipFile(templates["record3d"]) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        members["metadata"] = damage_json(members["metadata"].decode(), damage)
        if member_bytes is not None:
            names = sorted(n for n in members if n != "metadata")
            members[names[member_index % len(names)]] = member_bytes
        with zipfile.ZipFile(archive, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        check_reader(archive, archive)


@FUZZ_SETTINGS
@given(
    target=st.sampled_from(["pose/0.txt", "pose/1.txt", "intrinsic/intrinsic_color.txt"]),
    line_index=st.integers(0, 3),
    line=text_lines,
    file_bytes=st.none() | any_bytes,
    file_index=st.integers(0, 100),
)
def test_scannet_reader(templates, target, line_index, line, file_bytes, file_index):
    with tempfile.TemporaryDirectory() as work:
        root = copy_template(templates["scannet"], Path(work))
        path = root / target
        path.write_text(damage_lines(path.read_text(), line_index, line))
        if file_bytes is not None:
            damage_file(root, file_index, file_bytes, "[cd]*/*.*")  # color/ and depth/ images
        check_reader(root, root)


@FUZZ_SETTINGS
@given(
    target=st.sampled_from(["rgb.txt", "depth.txt", "groundtruth.txt"]),
    line_index=st.integers(0, 10),
    line=text_lines | st.sampled_from(["1305031102.0 ../../outside.png", "1305031102.0 /etc/passwd"]),
    file_bytes=st.none() | any_bytes,
    file_index=st.integers(0, 100),
)
def test_tum_reader(templates, target, line_index, line, file_bytes, file_index):
    with tempfile.TemporaryDirectory() as work:
        root = copy_template(templates["tum"], Path(work))
        path = root / target
        path.write_text(damage_lines(path.read_text(), line_index, line))
        if file_bytes is not None:
            damage_file(root, file_index, file_bytes, "*/*.png")
        check_reader(root, root, intrinsics=TUM_CAMERA_ARGUMENT)


@FUZZ_SETTINGS
@given(
    damage=json_damage,
    line_index=st.integers(0, 3),
    line=st.none() | text_lines,
    file_bytes=st.none() | any_bytes,
    file_index=st.integers(0, 100),
)
def test_replica_reader(templates, damage, line_index, line, file_bytes, file_index):
    with tempfile.TemporaryDirectory() as work:
        download = copy_template(templates["replica"].parent, Path(work))
        scene = download / templates["replica"].name
        params = download / "cam_params.json"
        params.write_bytes(damage_json(params.read_text(), damage))
        if line is not None:
            traj = scene / "traj.txt"
            traj.write_text(damage_lines(traj.read_text(), line_index, line))
        if file_bytes is not None:
            damage_file(scene / "results", file_index, file_bytes, "*.*")
        check_reader(scene, download)


def test_the_property_catches_a_foreign_exception(tmp_path, monkeypatch):
    """The check itself can fail: an exception that is not a CaptureError escapes it."""
    import lerf3d.capture

    def broken(*args, **kwargs):
        raise KeyError("frames")

    monkeypatch.setattr(lerf3d.capture, "read_nerfstudio", broken)
    (tmp_path / "transforms.json").write_text("{}")
    with pytest.raises(KeyError):
        check_reader(tmp_path, tmp_path)

