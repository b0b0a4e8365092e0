"""OBJ/MTL parsing, fitting a Y-up model to a catalogue size, and writing per-material OBJs."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools.objmesh import Material, fit_to_size, parse_mtl, parse_obj, shift_uvs_positive, write_obj

MTL = """
# two materials
newmtl wood
Kd 0.6 0.4 0.2
map_Kd -s 2 2 1 wood grain.jpg
newmtl glass
Kd 0.9 0.9 1.0
d 0.2
newmtl paint
Kd 1 0 0
Tr 0.25
"""

# a 2 x 4 x 1 (x, y, z) box-ish model in Y-up centimetres: a quad seat (wood) and a triangle (glass)
OBJ = """
v 0 0 0
v 200 0 0
v 200 0 100
v 0 0 100
v 0 400 0
vt 0 0
vt 1 0
vt 1 1
vt 0 1
vn 0 1 0
usemtl wood
f 1/1/1 2/2/1 3/3/1 4/4/1
usemtl glass
f -5//1 -4//1 -1//1
"""


def test_parse_mtl_reads_colour_opacity_and_texture_with_options():
    materials = parse_mtl(MTL)
    assert materials["wood"].diffuse == (0.6, 0.4, 0.2)
    assert materials["wood"].texture == "grain.jpg"
    assert materials["glass"].opacity == pytest.approx(0.2)
    assert materials["paint"].opacity == pytest.approx(0.75)


def test_parse_obj_groups_by_material_and_triangulates():
    parts = parse_obj(OBJ, parse_mtl(MTL))
    assert [p.material.name for p in parts] == ["wood", "glass"]
    wood, glass = parts
    assert wood.positions.shape == (2, 3, 3)  # the quad became two triangles
    np.testing.assert_allclose(wood.uvs[1], [[0, 0], [1, 1], [0, 1]])
    # relative indices -5, -4, -1 are vertices 1, 2, 5
    np.testing.assert_allclose(glass.positions[0], [[0, 0, 0], [200, 0, 0], [0, 400, 0]])
    assert glass.uvs is None


def test_parse_obj_names_the_file_on_bad_indices():
    with pytest.raises(ValueError, match=r"chair.obj:2: face index 2 out of range \(have 1\)"):
        parse_obj("v 0 0 0\nf 1 2 7\n", {}, source="chair.obj")


def test_fit_to_size_gives_exact_z_up_extent_with_base_on_the_floor():
    parts = parse_obj(OBJ, parse_mtl(MTL))
    fitted = fit_to_size(parts, (0.5, 0.3, 1.2))
    pts = np.concatenate([p.positions.reshape(-1, 3) for p in fitted])
    np.testing.assert_allclose(pts.min(axis=0), [-0.25, -0.15, 0.0], atol=1e-12)
    np.testing.assert_allclose(pts.max(axis=0), [0.25, 0.15, 1.2], atol=1e-12)
    # model +y (up) became world +z: the vertex at model y = 400 is the top
    assert fitted[1].positions[0, 2, 2] == pytest.approx(1.2)
    # model +z (Sweet Home 3D's front) became world -y: model z = 100 is the lowest world y
    top_front = fitted[0].positions[0, 2]  # model (200, 0, 100)
    assert top_front[1] == pytest.approx(-0.15)
    # the quad's normal (model +y) now points up
    np.testing.assert_allclose(fitted[0].normals[0, 0], [0, 0, 1], atol=1e-12)


def test_fit_to_size_applies_the_catalogue_model_rotation_first():
    parts = parse_obj(OBJ, {})
    # swap model x and y: the model's 400-long axis becomes x, and the result still fits the size
    swap = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=float)
    fitted = fit_to_size(parts, (1.0, 1.0, 1.0), model_rotation=swap)
    pts = np.concatenate([p.positions.reshape(-1, 3) for p in fitted])
    np.testing.assert_allclose(pts.max(axis=0) - pts.min(axis=0), [1.0, 1.0, 1.0], atol=1e-12)
    assert fitted[1].positions[0, 2, 0] == pytest.approx(0.5)  # model (0, 400, 0) is now at +x


def test_shift_uvs_positive_moves_whole_tiles_per_triangle():
    uvs = np.array([[[-1.5, 2.2], [-0.5, 2.9], [-1.0, 3.4]]])
    shifted = shift_uvs_positive(uvs)
    np.testing.assert_allclose(shifted, uvs + np.array([2.0, -2.0]))
    assert shifted.min() >= 0


def test_write_obj_round_trips(tmp_path):
    part = fit_to_size(parse_obj(OBJ, parse_mtl(MTL)), (0.5, 0.3, 1.2))[0]
    path = tmp_path / "part.obj"
    write_obj(path, part)
    (back,) = parse_obj(path.read_text(), {})
    np.testing.assert_allclose(back.positions, part.positions, atol=1e-6)
    np.testing.assert_allclose(back.normals, part.normals, atol=1e-6)
    np.testing.assert_allclose(back.uvs, part.uvs, atol=1e-6)
    assert path.read_text().count("\nv ") == 4  # the quad's shared corners are written once


def test_material_defaults_follow_the_obj_specification():
    assert Material("m").diffuse == (0.8, 0.8, 0.8) and Material("m").opacity == 1.0
