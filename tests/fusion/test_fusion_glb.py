"""The GLB writer against the glTF 2.0 specification, read back by the tests' own spec reader."""

from __future__ import annotations

import numpy as np
import pytest
from gltf_spec import accessor, linear_to_srgb, read_glb

from lerf3d.fusion.export import write_mesh_glb
from lerf3d.fusion.glb import glb_bytes, srgb_to_linear

TRIANGLE = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
FACE = np.array([[0, 1, 2]])


def _written(tmp_path, positions, faces, srgb):
    path = tmp_path / "m.glb"
    path.write_bytes(glb_bytes(positions, faces, srgb))
    return read_glb(path)


def test_layout_accessors_and_material_follow_the_specification(tmp_path):
    srgb = np.array([[1.0, 0.0, 0.5], [0.2, 0.2, 0.2], [0.0, 0.0, 0.0]])
    tree, binary = _written(tmp_path, TRIANGLE, FACE, srgb)
    assert tree["asset"]["version"] == "2.0" and tree["buffers"][0]["byteLength"] <= len(binary)
    (primitive,) = tree["meshes"][0]["primitives"]
    assert primitive.get("mode", 4) == 4  # triangles
    positions = accessor(tree, binary, primitive["attributes"]["POSITION"])
    np.testing.assert_array_equal(positions, TRIANGLE)
    position_accessor = tree["accessors"][primitive["attributes"]["POSITION"]]
    assert position_accessor["min"] == [0.0, 0.0, 0.0] and position_accessor["max"] == [1.0, 1.0, 0.0]  # required
    np.testing.assert_array_equal(accessor(tree, binary, primitive["indices"]).ravel(), [0, 1, 2])
    colour_accessor = tree["accessors"][primitive["attributes"]["COLOR_0"]]
    # COLOR_0 may be float, or unsigned byte / short normalised (3.7.2.1)
    assert colour_accessor["componentType"] == 5126 or colour_accessor.get("normalized") is True
    colours = accessor(tree, binary, primitive["attributes"]["COLOR_0"])
    np.testing.assert_allclose(linear_to_srgb(colours[:, :3]), srgb, atol=1e-4)
    for view in tree["bufferViews"]:  # vertex attributes and indices 4-byte aligned
        assert view.get("byteOffset", 0) % 4 == 0
    pbr = tree["materials"][primitive["material"]]["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0.0 and pbr["roughnessFactor"] == 1.0


def test_dark_colours_stay_apart(tmp_path):
    """Every 8-bit sRGB level keeps a stored value of its own once linear, and comes back to itself:
    no banding in the shadows (8-bit linear storage would merge the darkest levels)."""
    levels = np.arange(256) / 255.0
    positions = np.column_stack([np.arange(256.0), np.zeros(256), np.zeros(256)])
    tree, binary = _written(tmp_path, positions, FACE, np.stack([levels] * 3, axis=1))
    (primitive,) = tree["meshes"][0]["primitives"]
    grey = accessor(tree, binary, primitive["attributes"]["COLOR_0"])[:, 0]
    assert np.unique(grey).size == 256
    np.testing.assert_allclose(linear_to_srgb(grey), levels, atol=0.5 / 255)
    assert np.unique(np.round(srgb_to_linear(levels) * 255)).size < 200


@pytest.mark.parametrize(
    ("positions", "faces", "srgb", "message"),
    [
        (np.zeros((0, 3)), np.zeros((0, 3), int), np.zeros((0, 3)), "V >= 1"),
        (TRIANGLE, np.zeros((0, 3), int), np.zeros((3, 3)), "F >= 1"),
        (TRIANGLE, np.array([[0, 1, 3]]), np.zeros((3, 3)), "vertex 3 of 3"),
        (TRIANGLE, FACE, np.zeros((2, 3)), "do not match"),
        (np.array([[0.0, 0.0, np.nan], [1, 0, 0], [0, 1, 0]]), FACE, np.zeros((3, 3)), "finite"),
        (TRIANGLE, FACE, np.array([[0.0, np.nan, 0.0], [0, 0, 0], [0, 0, 0]]), "finite"),
    ],
)
def test_bad_meshes_are_refused(positions, faces, srgb, message):
    with pytest.raises(ValueError, match=message):
        glb_bytes(positions, faces, srgb)


@pytest.mark.parametrize(
    ("name", "vertices", "faces", "colours", "message"),
    [
        ("empty", TRIANGLE, np.zeros((0, 3), int), np.zeros((3, 3)), r"F >= 1"),
        ("flat", TRIANGLE, FACE, np.zeros(9), r"vertex colours must be \(V, 3\) or \(V, 4\)"),
        ("plane", TRIANGLE[:, :2], FACE, np.zeros((3, 3)), r"vertices must be \(V, 3\)"),
    ],
)
def test_a_refused_mesh_names_the_file_and_leaves_nothing(tmp_path, name, vertices, faces, colours, message):
    with pytest.raises(ValueError, match=rf"{name}\.glb: .*{message}"):
        write_mesh_glb(tmp_path / f"{name}.glb", vertices, faces, colours)
    assert list(tmp_path.iterdir()) == []
