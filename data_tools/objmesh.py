"""Wavefront OBJ/MTL reading, fitting to a catalogue size, and writing one mesh per material.

pybullet's OBJ loader keeps one texture and one colour per visual shape, while the furniture models
use several materials each (wood legs, fabric seat, ...). So a model is read into one
:class:`MeshPart` per material, each written as its own OBJ and given its own texture or colour by
the renderer.

Pure functions on numpy arrays except :func:`write_obj`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lerf3d.capture.poses import Y_UP_TO_Z_UP

DEFAULT_DIFFUSE = (0.8, 0.8, 0.8)
"""Kd of the OBJ specification's default material, for faces without ``usemtl``."""

OBJ_DECIMALS = 6
"""Decimals written per coordinate: micrometres for positions, plenty for unit normals and UVs."""


@dataclass(frozen=True)
class Material:
    """The parts of an MTL material that the renderer uses."""

    name: str
    """``newmtl`` name."""
    diffuse: tuple[float, float, float] = DEFAULT_DIFFUSE
    """``Kd`` colour in [0, 1]."""
    opacity: float = 1.0
    """``d`` (or 1 - ``Tr``): 1 is opaque."""
    texture: str | None = None
    """``map_Kd`` file name, relative to the MTL file's folder."""


@dataclass(frozen=True, eq=False)
class MeshPart:
    """The triangles of one material, stored per corner (no shared vertices)."""

    material: Material
    """Material of every triangle."""
    positions: np.ndarray
    """(T, 3, 3) float64 corner positions."""
    normals: np.ndarray
    """(T, 3, 3) float64 unit corner normals (face normals where the OBJ had none)."""
    uvs: np.ndarray | None
    """(T, 3, 2) float64 texture coordinates, or None when the OBJ had none for these faces."""


def parse_mtl(text: str) -> dict[str, Material]:
    """Materials of an MTL file by name."""
    materials: dict[str, Material] = {}
    current: Material | None = None
    for raw in text.splitlines():
        tokens = raw.split("#", 1)[0].split()
        if not tokens:
            continue
        key, args = tokens[0], tokens[1:]
        if key == "newmtl":
            current = Material(name=" ".join(args))
            materials[current.name] = current
        elif current is None:
            continue
        elif key == "Kd" and len(args) >= 3:
            current = replace(current, diffuse=tuple(float(a) for a in args[:3]))
        elif key == "d" and args:
            current = replace(current, opacity=float(args[-1]))
        elif key == "Tr" and args:
            current = replace(current, opacity=1.0 - float(args[-1]))
        elif key == "map_Kd" and args:
            current = replace(current, texture=_texture_name(raw))
        materials[current.name] = current
    return materials


def _texture_name(line: str) -> str:
    """The file name of a ``map_Kd`` line, skipping options such as ``-s 1 1 1``."""
    body = line.split("map_Kd", 1)[1].strip()
    try:
        tokens = shlex.split(body)
    except ValueError:  # an unmatched quote: take the line as written
        tokens = body.split()
    # options take numeric arguments; the file name is the last token that is not a number
    names = [t for t in tokens if not t.startswith("-") and not _is_number(t)]
    return names[-1] if names else body


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_obj(text: str, materials: dict[str, Material], source: str = "<obj>") -> list[MeshPart]:
    """Triangles of an OBJ file grouped by material, in order of first use.

    Polygons are fan-triangulated (the furniture's polygons are convex). Negative (relative)
    indices are resolved. ``source`` names the file in error messages.
    """
    verts: list[list[str]] = []
    texcoords: list[list[str]] = []
    norms: list[list[str]] = []
    faces: dict[str, list[tuple[int, int, int]]] = {}
    corner_cache: dict[str, tuple[int, int, int]] = {}  # vertices are shared by ~5 faces each
    current = ""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0][0] == "#":
            continue
        key = tokens[0]
        if key == "v":
            verts.append(tokens[1:4])
        elif key == "vt":
            texcoords.append((tokens[1:3] + ["0"])[:2])
        elif key == "vn":
            norms.append(tokens[1:4])
        elif key == "usemtl":
            current = " ".join(tokens[1:])
        elif key == "f":
            corners = []
            for t in tokens[1:]:
                corner = corner_cache.get(t)
                if corner is None:
                    corner = _corner(t, len(verts), len(texcoords), len(norms), source, lineno)
                    if "-" not in t:  # relative indices depend on the line, never cache them
                        corner_cache[t] = corner
                corners.append(corner)
            tris = faces.setdefault(current, [])
            for i in range(1, len(corners) - 1):
                tris.append((corners[0], corners[i], corners[i + 1]))
    if not faces:
        raise ValueError(f"{source}: no faces")
    try:
        v = np.asarray(verts, dtype=np.float64).reshape(-1, 3)  # (V, 3)
    except ValueError as exc:
        raise ValueError(f"{source}: malformed vertex line ({exc})") from exc
    vt = np.asarray(texcoords, dtype=np.float64).reshape(-1, 2)  # (VT, 2)
    vn = np.asarray(norms, dtype=np.float64).reshape(-1, 3)  # (VN, 3)
    parts = []
    for name, tris in faces.items():
        material = materials.get(name, Material(name=name or "default"))
        parts.append(_gather_part(np.asarray(tris, dtype=np.int64), v, vt, vn, material))
    return parts


def _corner(token: str, nv: int, nt: int, nn: int, source: str, lineno: int) -> tuple[int, int, int]:
    """0-based (vertex, texcoord, normal) indices of one face corner; -1 where absent."""
    fields = token.split("/")
    out = []
    for i, count in enumerate((nv, nt, nn)):
        text = fields[i] if i < len(fields) else ""
        if not text:
            out.append(-1)
            continue
        idx = int(text)
        idx = idx - 1 if idx > 0 else count + idx
        if not 0 <= idx < count:
            raise ValueError(f"{source}:{lineno}: face index {text} out of range (have {count})")
        out.append(idx)
    if out[0] < 0:
        raise ValueError(f"{source}:{lineno}: face corner {token!r} has no vertex index")
    return out[0], out[1], out[2]


def _gather_part(
    tris: np.ndarray, v: np.ndarray, vt: np.ndarray, vn: np.ndarray, material: Material
) -> MeshPart:
    """tris: (T, 3, 3) corner index triples (vertex, texcoord, normal)."""
    positions = v[tris[:, :, 0]]  # (T, 3, 3)
    face_n = face_normals(positions)
    normals = np.repeat(face_n[:, None, :], 3, axis=1)  # (T, 3, 3)
    has_n = (tris[:, :, 2] >= 0).all(axis=1)
    if has_n.any():
        normals[has_n] = vn[tris[has_n][:, :, 2]]
    has_uv = (tris[:, :, 1] >= 0).all(axis=1)
    uvs = None
    if has_uv.any():
        uvs = np.zeros(tris.shape[:2] + (2,))  # (T, 3, 2); faces without UVs sample texel (0, 0)
        uvs[has_uv] = vt[tris[has_uv][:, :, 1]]
    return MeshPart(material=material, positions=positions, normals=_unit(normals), uvs=uvs)


def face_normals(positions: np.ndarray) -> np.ndarray:
    """(T, 3) unit normals of (T, 3, 3) triangles, counter-clockwise front; (0, 0, 1) if degenerate."""
    n = np.cross(positions[:, 1] - positions[:, 0], positions[:, 2] - positions[:, 0])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    out = np.where(length > 1e-12, n / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0]))
    return out


def _unit(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.where(length > 1e-12, vectors / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0]))


def fit_to_size(
    parts: list[MeshPart], size_m: tuple[float, float, float], model_rotation: np.ndarray | None = None
) -> list[MeshPart]:
    """Turn a Sweet Home 3D model (Y-up, any unit) into a Z-up mesh of exactly ``size_m``.

    ``size_m`` is (width, depth, height) in metres: the world x, y, z extents (Sweet Home 3D's
    width is along the model's x, depth along its z, height along its y). ``model_rotation`` is the
    catalogue's 3x3 ``modelRotation``, applied first. The result has its footprint centred on the
    origin and its base on z = 0, like Sweet Home 3D, which also scales each axis independently.
    """
    rot = Y_UP_TO_Z_UP[:3, :3]
    if model_rotation is not None:
        rot = rot @ np.asarray(model_rotation, dtype=np.float64).reshape(3, 3)
    rotated = [p.positions @ rot.T for p in parts]
    stacked = np.concatenate([r.reshape(-1, 3) for r in rotated])  # (3T, 3)
    lo, hi = stacked.min(axis=0), stacked.max(axis=0)
    extent = np.maximum(hi - lo, 1e-9)
    scale = np.asarray(size_m, dtype=np.float64) / extent
    offset = -np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]) * scale
    out = []
    for part, pos in zip(parts, rotated, strict=True):
        # normals transform with the inverse transpose of the (diagonal) scale
        normals = _unit((part.normals @ rot.T) / scale)
        out.append(replace(part, positions=pos * scale + offset, normals=normals))
    return out


def shift_uvs_positive(uvs: np.ndarray) -> np.ndarray:
    """(T, 3, 2) UVs moved by whole tiles per triangle so that each triangle's minimum is in [0, 1).

    Tiled textures use coordinates outside [0, 1]; the TinyRenderer wraps with ``modf``, which
    keeps negative values negative, so negative coordinates would sample outside the image.
    """
    return uvs - np.floor(uvs.min(axis=1, keepdims=True))


def write_obj(path: Path, part: MeshPart) -> None:
    """Write one part as an OBJ with shared (deduplicated) corners and no material library."""
    tri_count = part.positions.shape[0]
    uvs = part.uvs if part.uvs is not None else np.zeros((tri_count, 3, 2))
    corners = np.concatenate(
        [part.positions.reshape(-1, 3), part.normals.reshape(-1, 3), uvs.reshape(-1, 2)], axis=1
    )  # (3T, 8)
    corners = np.round(corners, OBJ_DECIMALS)
    unique, inverse = np.unique(corners, axis=0, return_inverse=True)
    faces = inverse.reshape(tri_count, 3) + 1  # (T, 3) 1-based OBJ indices
    f = f"%.{OBJ_DECIMALS}f"
    # one format string per block: formatting in C is ~20x faster than per-value Python
    text = "# written by lerf3d data_tools\n"
    text += (f"v {f} {f} {f}\n" * len(unique)) % tuple(unique[:, 0:3].ravel().tolist())
    text += (f"vn {f} {f} {f}\n" * len(unique)) % tuple(unique[:, 3:6].ravel().tolist())
    text += (f"vt {f} {f}\n" * len(unique)) % tuple(unique[:, 6:8].ravel().tolist())
    text += ("f %d/%d/%d %d/%d/%d %d/%d/%d\n" * tri_count) % tuple(
        np.repeat(faces, 3, axis=1).ravel().tolist()
    )
    Path(path).write_text(text)


def bounds(parts: list[MeshPart]) -> tuple[np.ndarray, np.ndarray]:
    """(3,) lower and upper corners of all parts' positions."""
    stacked = np.concatenate([p.positions.reshape(-1, 3) for p in parts])  # (3T, 3)
    return stacked.min(axis=0), stacked.max(axis=0)
