"""What save_fusion writes, as other programs see it: a glTF viewer's axes and material, file modes."""

from __future__ import annotations

import json
import os
import stat
import struct

import numpy as np
import pytest
from fused_room import floor_and_post

from lerf3d.atomic import write_json_atomic
from lerf3d.fusion import save_fusion
from lerf3d.fusion.tsdf import FusionResult


@pytest.fixture
def room_result() -> FusionResult:
    return floor_and_post()


def gltf_json(path) -> dict:
    """The JSON chunk of a GLB file, read per the glTF 2.0 binary layout (12-byte header, chunk 0)."""
    data = path.read_bytes()
    magic, version, _ = struct.unpack("<4sII", data[:12])
    length, kind = struct.unpack("<I4s", data[12:20])
    assert (magic, version, kind) == (b"glTF", 2, b"JSON")
    return json.loads(data[20 : 20 + length])


def test_glb_is_y_up_with_a_vertex_colour_material(room_result, tmp_path):
    import trimesh

    files = save_fusion(room_result, tmp_path)
    scene = trimesh.load(files.mesh_glb)  # trimesh applies no axis conversion of its own
    (node,) = scene.graph.nodes_geometry
    transform, name = scene.graph[node]
    np.testing.assert_array_equal(transform, np.eye(4))  # the positions themselves are Y-up
    mesh = scene.geometry[name]
    # glTF is +Y up: the post's height (world z = 1.5) must be its y; world y becomes -z.
    np.testing.assert_allclose(mesh.bounds, [[0.0, 0.0, -1.0], [2.0, 1.5, 0.0]], atol=1e-6)
    floor_normal = mesh.face_normals[0]
    np.testing.assert_allclose(floor_normal, [0.0, 1.0, 0.0], atol=1e-6)  # the floor faces up, +Y
    # the positions are a rotation of the originals, not a mirror: lengths and handedness survive
    np.testing.assert_allclose(mesh.area, trimesh.Trimesh(room_result.vertices, room_result.faces).area)

    tree = gltf_json(files.mesh_glb)
    (material,) = tree["materials"]
    pbr = material["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0.0 and pbr["roughnessFactor"] == 1.0
    assert pbr.get("baseColorFactor", [1, 1, 1, 1]) == [1.0, 1.0, 1.0, 1.0]
    (primitive,) = tree["meshes"][0]["primitives"]
    assert primitive["material"] == 0 and "COLOR_0" in primitive["attributes"]
    assert mesh.visual.material.metallicFactor == 0.0
    np.testing.assert_array_equal(mesh.visual.vertex_attributes["color"][0], [204, 102, 51, 255])


def test_outputs_respect_the_umask(room_result, tmp_path):
    """Exports are meant to be shared (a web server, another user): 0644 under umask 022, not 0600."""
    before = os.umask(0o022)
    try:
        files = save_fusion(room_result, tmp_path / "shared")
        os.umask(0o027)
        private = write_json_atomic(tmp_path / "private.json", {"a": 1})
    finally:
        os.umask(before)
    for path in (files.mesh_ply, files.mesh_glb, files.points_ply, files.bounds_json):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.json", "shared"]  # no temporaries left
