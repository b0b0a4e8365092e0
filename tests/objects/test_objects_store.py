"""Saved objects: a round trip, and a corrupt, foreign or stale file refused with its name."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from objects_helpers import boxes_objects

from lerf3d.objects.store import ObjectsFileError, build_key, load_objects, save_objects


@pytest.fixture
def saved(tmp_path):
    objects = boxes_objects([((0, 0, 0), (0.5, 0.5, 0.8)), ((1, 0, 0), (2.0, 1.0, 0.75))],
                            torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))
    objects = type(objects)(**{**objects.__dict__, "views": (("frame_00001", "frame_00000"), ()),
                               "dino": torch.eye(2)})
    return objects, save_objects(objects, tmp_path / "objects", key="k1")


def test_round_trip_keeps_every_field(saved):
    objects, path = saved
    loaded = load_objects(path, key="k1")
    for name in ("xyz", "point_object", "box_min", "box_max", "centroid", "colour", "embedding", "scale",
                 "confidence", "dino"):
        torch.testing.assert_close(getattr(loaded, name), getattr(objects, name))
    assert loaded.views == objects.views and loaded.encoder == objects.encoder
    summary = json.loads((path.parent / "objects.json").read_text())
    assert [o["id"] for o in summary["objects"]] == [0, 1] and summary["objects"][0]["views"][0] == "frame_00001"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_stale_key_is_refused(saved):
    _, path = saved
    with pytest.raises(ObjectsFileError, match="stale"):
        load_objects(path, key="k2")


def test_truncated_file_is_refused_with_its_name(saved):
    _, path = saved
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ObjectsFileError, match="objects.npz: unreadable"):
        load_objects(path)


def test_other_version_and_inconsistent_arrays_are_refused(saved, tmp_path):
    _, path = saved
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    header = json.loads(bytes(arrays["header"]).decode())
    for change, message in (({"version": 99}, "version 99"), ({"format": "x"}, "not a lerf3d objects")):
        arrays["header"] = np.frombuffer(json.dumps({**header, **change}).encode(), dtype=np.uint8)
        np.savez(tmp_path / "other.npz", **arrays)
        with pytest.raises(ObjectsFileError, match=message):
            load_objects(tmp_path / "other.npz")
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    arrays["scale"] = arrays["scale"][:1]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(ObjectsFileError, match="inconsistent"):
        load_objects(tmp_path / "short.npz")
    with zipfile.ZipFile(tmp_path / "junk.npz", "w") as archive:
        archive.writestr("nothing.txt", "x")
    with pytest.raises(ObjectsFileError, match="junk.npz"):
        load_objects(tmp_path / "junk.npz")


def test_build_key_changes_with_checkpoint_points_and_settings(tmp_path):
    checkpoint = tmp_path / "step-1.ckpt"
    checkpoint.write_bytes(b"weights")
    xyz = np.zeros((4, 3), np.float32)
    key = build_key(checkpoint, xyz, {"a": 1})
    assert key == build_key(checkpoint, xyz.copy(), {"a": 1})
    assert key != build_key(checkpoint, xyz + 1, {"a": 1})
    assert key != build_key(checkpoint, xyz, {"a": 2})
    checkpoint.write_bytes(b"weights2")
    assert key != build_key(checkpoint, xyz, {"a": 1})
