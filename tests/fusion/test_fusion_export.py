"""What save_fusion writes, as other programs see it: a glTF viewer's axes and material, file modes."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from fused_room import COLOUR, floor_and_post
from gltf_spec import accessor, assert_valid_gltf, linear_to_srgb, needs_node, read_glb

from lerf3d.atomic import write_json_atomic
from lerf3d.fusion import save_fusion
from lerf3d.fusion.tsdf import FusionResult


@pytest.fixture
def room_result() -> FusionResult:
    return floor_and_post()


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

    tree, binary = read_glb(files.mesh_glb)
    (material,) = tree["materials"]
    pbr = material["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0.0 and pbr["roughnessFactor"] == 1.0
    assert pbr.get("baseColorFactor", [1, 1, 1, 1]) == [1.0, 1.0, 1.0, 1.0]
    (primitive,) = tree["meshes"][0]["primitives"]
    assert primitive["material"] == 0 and "COLOR_0" in primitive["attributes"]
    assert mesh.visual.material.metallicFactor == 0.0
    # COLOR_0 is linear (glTF 2.0, 3.7.2.1): a viewer's sRGB encoding for the screen gives back the
    # capture's colour, and the stored values are the darker linear ones, not the sRGB ones
    colours = accessor(tree, binary, primitive["attributes"]["COLOR_0"])
    np.testing.assert_allclose(linear_to_srgb(colours[:, :3]), np.tile(COLOUR, (len(colours), 1)), atol=1 / 255)
    np.testing.assert_allclose(colours[0, :3], [0.6038, 0.1329, 0.0331], atol=1e-3)


@needs_node
def test_glb_passes_the_khronos_validator(room_result, tmp_path):
    assert_valid_gltf(save_fusion(room_result, tmp_path).mesh_glb)


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
