"""Writing and reading fusion results: mesh (PLY, GLB), point set (PLY), bounds (JSON).

PLY files keep lerf3d's Z-up world. The GLB follows glTF 2.0's conventions instead, since glTF
viewers apply no rotation of their own: +Y up (positions mapped (x, y, z) -> (x, z, -y), a proper
rotation), the vertex colours stored linear in COLOR_0 as glTF defines it, and a material that
lets them show (COLOR_0 times a white, non-metallic, fully rough base colour; without a material
viewers use glTF's default metalness 1 and draw the mesh almost black): :mod:`lerf3d.fusion.glb`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lerf3d.atomic import atomic_path, write_json_atomic
from lerf3d.fusion.glb import glb_bytes
from lerf3d.fusion.tsdf import FusionResult
from lerf3d.ply import PlyError, read_vertex_ply, write_vertex_ply
from lerf3d.types import PointSet, SceneBounds


@dataclass(frozen=True)
class FusionFiles:
    """Where :func:`save_fusion` wrote each artefact."""

    mesh_ply: Path
    mesh_glb: Path
    points_ply: Path
    bounds_json: Path


def _write_points_ply(points: PointSet, path: Path) -> None:
    """float x y z (and nx ny nz), uchar red green blue: what open3d, CloudCompare and MeshLab read."""
    xyz = points.xyz.astype(np.float32)
    columns = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
    if points.normals is not None:
        normals = points.normals.astype(np.float32)
        columns.update(nx=normals[:, 0], ny=normals[:, 1], nz=normals[:, 2])
    colours = (np.clip(points.rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    columns.update(red=colours[:, 0], green=colours[:, 1], blue=colours[:, 2])
    write_vertex_ply(path, columns, comment="lerf3d fused surface points")


Z_UP_TO_GLTF = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
"""lerf3d's Z-up world -> glTF's Y-up one: x stays, z becomes y, y becomes -z (det +1)."""


def write_mesh_glb(path: str | Path, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray) -> Path:
    """Write a mesh of lerf3d's Z-up world as a GLB (atomically): positions turned +Y up, the sRGB
    vertex colours (uint8 0-255, or floats in [0, 1]) stored linear as glTF defines ``COLOR_0``
    (:mod:`lerf3d.fusion.glb`)."""
    path = Path(path)
    vertices, colors = np.asarray(vertices, np.float64), np.asarray(colors)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"{path}: vertices must be (V, 3), got shape {vertices.shape}")
    if colors.ndim != 2 or colors.shape[1] not in (3, 4):
        raise ValueError(f"{path}: vertex colours must be (V, 3) or (V, 4), got shape {colors.shape}")
    colors = colors[:, :3]
    srgb = colors / 255.0 if np.issubdtype(colors.dtype, np.integer) else colors
    positions = vertices @ Z_UP_TO_GLTF[:3, :3].T
    try:
        data = glb_bytes(positions, faces, srgb, name=path.stem)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def save_fusion(result: FusionResult, out_dir: str | Path) -> FusionFiles:
    """Write mesh.ply, mesh.glb, points.ply and bounds.json into ``out_dir`` (each atomically)."""
    import trimesh

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colors = (np.clip(result.vertex_colors, 0, 1) * 255).astype(np.uint8)
    mesh = trimesh.Trimesh(result.vertices, result.faces, vertex_colors=colors, process=False)
    files = FusionFiles(out / "mesh.ply", out / "mesh.glb", out / "points.ply", out / "bounds.json")
    with atomic_path(files.mesh_ply) as tmp:
        mesh.export(tmp)
    write_mesh_glb(files.mesh_glb, result.vertices, result.faces, np.clip(result.vertex_colors, 0, 1))
    with atomic_path(files.points_ply) as tmp:
        _write_points_ply(result.points, tmp)
    write_json_atomic(
        files.bounds_json,
        {
            "lower": result.bounds.lower.tolist(),
            "upper": result.bounds.upper.tolist(),
            "voxel_size": result.voxel_size,
            "backend": result.backend,
            "num_vertices": int(len(result.vertices)),
            "num_faces": int(len(result.faces)),
            "num_points": int(len(result.points.xyz)),
        },
    )
    return files


def load_points(path: str | Path) -> PointSet:
    """A coloured point set from a PLY (what :func:`save_fusion` writes, or any PLY point cloud with
    x y z; colours as uchar 0-255 or float 0-1, grey when absent; normals when it has nx ny nz)."""
    columns = read_vertex_ply(path)
    if not {"x", "y", "z"} <= columns.keys() or len(columns["x"]) == 0:
        raise PlyError(f"{path}: no points (a point-cloud PLY needs vertices with x, y, z)")
    xyz = np.stack([columns[k] for k in "xyz"], axis=1).astype(np.float32)
    if {"red", "green", "blue"} <= columns.keys():
        rgb = np.stack([columns[k] for k in ("red", "green", "blue")], axis=1)
        rgb = rgb.astype(np.float32) / (255.0 if np.issubdtype(rgb.dtype, np.integer) else 1.0)
    else:
        rgb = np.full_like(xyz, 0.5)
    normals = (np.stack([columns[k] for k in ("nx", "ny", "nz")], axis=1).astype(np.float32)
               if {"nx", "ny", "nz"} <= columns.keys() else None)
    return PointSet(xyz, rgb, normals)


def load_bounds(path: str | Path) -> SceneBounds:
    """Read bounds.json written by :func:`save_fusion`."""
    data = json.loads(Path(path).read_text())
    return SceneBounds(np.asarray(data["lower"], np.float64), np.asarray(data["upper"], np.float64))
