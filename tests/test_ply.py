"""Point-set PLY files: fixtures written here from the PLY specification (header lines, then the
elements in header order, ASCII or packed binary), not by lerf3d's writer."""

from __future__ import annotations

import numpy as np
import pytest

from lerf3d.fusion import load_points
from lerf3d.ply import PlyError, read_vertex_ply, write_vertex_ply
from lerf3d.types import PointSet


def _binary_ply(path, order: str, header_body: list[str], payload: bytes) -> None:
    fmt = {"<": "binary_little_endian", ">": "binary_big_endian"}[order]
    header = "\n".join(["ply", f"format {fmt} 1.0", *header_body, "end_header"]) + "\n"
    path.write_bytes(header.encode("ascii") + payload)


def test_an_ascii_mesh_gives_its_vertices_and_leaves_the_faces(tmp_path):
    path = tmp_path / "mesh.ply"
    path.write_text("ply\nformat ascii 1.0\ncomment written by hand\nelement vertex 3\n"
                    "property float x\nproperty float y\nproperty float z\n"
                    "property uchar red\nproperty uchar green\nproperty uchar blue\n"
                    "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
                    "0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0.5 0 0 255\n3 0 1 2\n")
    points = load_points(path)
    np.testing.assert_allclose(points.xyz, [[0, 0, 0], [1, 0, 0], [0, 1, 0.5]])
    np.testing.assert_allclose(points.rgb, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert points.normals is None


def test_big_endian_doubles_with_normals_and_an_element_before_the_vertices(tmp_path):
    path = tmp_path / "scan.ply"
    xyz = np.array([[1.5, -2.0, 3.25], [0.0, 0.5, -1.0]])
    normals = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    camera = np.array([(7, 0.25)], dtype=[("id", ">i4"), ("fov", ">f4")])
    vertex = np.empty(2, [("x", ">f8"), ("y", ">f8"), ("z", ">f8"), ("nx", ">f8"), ("ny", ">f8"), ("nz", ">f8")])
    for i, name in enumerate("xyz"):
        vertex[name], vertex["n" + name] = xyz[:, i], normals[:, i]
    _binary_ply(path, ">", ["element camera 1", "property int id", "property float fov", "element vertex 2",
                            *(f"property double {n}" for n in ("x", "y", "z", "nx", "ny", "nz"))],
                camera.tobytes() + vertex.tobytes())
    points = load_points(path)
    np.testing.assert_allclose(points.xyz, xyz)
    np.testing.assert_allclose(points.normals, normals)
    np.testing.assert_allclose(points.rgb, 0.5)  # no colour: grey


def test_float_colours_are_read_as_zero_to_one(tmp_path):
    path = tmp_path / "float_rgb.ply"
    data = np.array([(1.0, 2.0, 3.0, 0.25, 0.5, 1.0)], dtype=[(n, "<f4") for n in ("x", "y", "z", "red", "green", "blue")])
    _binary_ply(path, "<", ["element vertex 1", *(f"property float {n}" for n in data.dtype.names)], data.tobytes())
    np.testing.assert_allclose(load_points(path).rgb, [[0.25, 0.5, 1.0]])


def test_writer_round_trip_keeps_types_and_values(tmp_path):
    columns = {"x": np.arange(4, dtype=np.float32), "red": np.array([0, 1, 254, 255], np.uint8),
               "score": np.linspace(0, 1, 4)}
    path = write_vertex_ply(tmp_path / "out.ply", columns, comment="test")
    header = path.read_bytes().split(b"end_header")[0].decode()
    assert "property float x" in header and "property uchar red" in header and "property double score" in header
    back = read_vertex_ply(path)
    for name, values in columns.items():
        assert back[name].dtype == values.dtype
        np.testing.assert_array_equal(back[name], values)


@pytest.mark.parametrize("text, problem", [
    (b"not a ply at all", "not a PLY"),
    (b"ply\nformat binary_little_endian 1.0\nelement face 1\nproperty float a\nend_header\n\0\0\0\0", "no 'vertex'"),
    (b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nend_header\n\0\0\0\0", "truncated"),
    (b"ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int i\n"
     b"element vertex 1\nproperty float x\nend_header\n", "list properties"),
    (b"ply\nformat binary_middle_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n", "unknown PLY format"),
])
def test_bad_files_fail_naming_the_file_and_the_problem(tmp_path, text, problem):
    path = tmp_path / "bad.ply"
    path.write_bytes(text)
    with pytest.raises(PlyError, match=problem) as err:
        read_vertex_ply(path)
    assert str(path) in str(err.value)


def test_a_points_file_without_coordinates_is_refused(tmp_path):
    path = write_vertex_ply(tmp_path / "no_xyz.ply", {"red": np.zeros(2, np.uint8)})
    with pytest.raises(PlyError, match="x, y, z"):
        load_points(path)


def test_open3d_reads_ours_and_we_read_open3d(tmp_path):
    o3d = pytest.importorskip("open3d")
    from lerf3d.fusion.export import _write_points_ply

    rng = np.random.default_rng(0)
    ours = PointSet(rng.random((50, 3), np.float32), rng.random((50, 3), np.float32),
                    rng.standard_normal((50, 3)).astype(np.float32))
    _write_points_ply(ours, tmp_path / "ours.ply")
    cloud = o3d.io.read_point_cloud(str(tmp_path / "ours.ply"))
    np.testing.assert_allclose(np.asarray(cloud.points), ours.xyz, atol=1e-6)
    np.testing.assert_allclose(np.asarray(cloud.colors), ours.rgb, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(np.asarray(cloud.normals), ours.normals, atol=1e-6)
    o3d.io.write_point_cloud(str(tmp_path / "theirs.ply"), cloud)  # doubles, as fusion wrote before
    theirs = load_points(tmp_path / "theirs.ply")
    np.testing.assert_allclose(theirs.xyz, ours.xyz, atol=1e-6)
    np.testing.assert_allclose(theirs.normals, ours.normals, atol=1e-6)
