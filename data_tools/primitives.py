"""Procedural meshes and textures: the fallback catalogue's shapes (box, cylinder, sphere), the room shell.

Everything is deterministic from its arguments. Meshes are Z-up metres with the footprint centred on
the origin and the base on z = 0, like the fitted furniture models (:func:`objmesh.fit_to_size`).
Textures are (H, W, 3) uint8 arrays; the textures carry patterns so that a radiance field and
a feature encoder have something to see on otherwise flat colours.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from data_tools.objmesh import Material, MeshPart, face_normals

PRIMITIVE_SHAPES = {
    # catalog_id: (label, (width, depth, height) m, placement, rgb, pattern)
    "primitive/box-cabinet": ("box", (0.9, 0.5, 0.8), "floor", (0.75, 0.3, 0.2), "stripes"),
    "primitive/box-table": ("box", (1.2, 0.7, 0.6), "floor", (0.3, 0.45, 0.8), "checker"),
    "primitive/box-tall": ("box", (0.5, 0.5, 1.5), "floor", (0.85, 0.75, 0.2), "stripes"),
    "primitive/cylinder-barrel": ("cylinder", (0.6, 0.6, 0.9), "floor", (0.2, 0.65, 0.35), "rings"),
    "primitive/cylinder-column": ("cylinder", (0.35, 0.35, 1.6), "floor", (0.6, 0.3, 0.7), "checker"),
    "primitive/sphere-ball": ("sphere", (0.7, 0.7, 0.7), "floor", (0.9, 0.5, 0.1), "checker"),
    "primitive/box-small": ("box", (0.2, 0.15, 0.15), "tabletop", (0.9, 0.2, 0.5), "checker"),
    "primitive/cylinder-cup": ("cylinder", (0.12, 0.12, 0.18), "tabletop", (0.2, 0.7, 0.8), "rings"),
    "primitive/sphere-small": ("sphere", (0.18, 0.18, 0.18), "tabletop", (0.95, 0.9, 0.3), "stripes"),
}
"""The fallback catalogue: distinct colours and patterns per model, tables and cabinets that can
carry the small items."""

CYLINDER_SEGMENTS = 24
"""Facets around a cylinder: smooth enough at 320 px."""

SPHERE_RINGS, SPHERE_SEGMENTS = 12, 24
"""Latitude and longitude divisions of a UV sphere."""

OBJECT_TEXTURE_PX = 128
"""Side of a generated object texture."""


def primitive_parts(catalog_id: str) -> tuple[list[MeshPart], np.ndarray]:
    """Mesh of a primitive catalogue entry (a key of PRIMITIVE_SHAPES) and its (H, W, 3) texture."""
    label, size, _, rgb, pattern = PRIMITIVE_SHAPES[catalog_id]
    builders = {"box": box_mesh, "cylinder": cylinder_mesh, "sphere": sphere_mesh}
    positions, uvs = builders[label](np.asarray(size, dtype=np.float64))
    material = Material(name=catalog_id, diffuse=(1.0, 1.0, 1.0), texture="texture.png")
    normals = np.repeat(face_normals(positions)[:, None, :], 3, axis=1)  # (T, 3, 3) flat shading
    seed = int.from_bytes(hashlib.sha256(catalog_id.encode()).digest()[:4], "big")
    return [MeshPart(material, positions, normals, uvs)], pattern_texture(rgb, pattern, seed)


def box_mesh(size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3, 3) triangles and (T, 3, 2) UVs of a box, outward faces counter-clockwise."""
    w, d, h = size
    lo, hi = np.array([-w / 2, -d / 2, 0.0]), np.array([w / 2, d / 2, h])
    tris, uvs = [], []
    for axis in range(3):
        for side in (0, 1):
            # a face's two in-plane axes, ordered so that u x v points outward
            u_ax, v_ax = (axis + 1) % 3, (axis + 2) % 3
            if side == 0:
                u_ax, v_ax = v_ax, u_ax
            corner = lo.copy()
            corner[axis] = hi[axis] if side else lo[axis]
            quad = []
            for du, dv in ((0, 0), (1, 0), (1, 1), (0, 1)):
                p = corner.copy()
                p[u_ax] = hi[u_ax] if du else lo[u_ax]
                p[v_ax] = hi[v_ax] if dv else lo[v_ax]
                quad.append(p)
            quad_uv = [(0, 0), (1, 0), (1, 1), (0, 1)]
            tris += [[quad[0], quad[1], quad[2]], [quad[0], quad[2], quad[3]]]
            uvs += [[quad_uv[0], quad_uv[1], quad_uv[2]], [quad_uv[0], quad_uv[2], quad_uv[3]]]
    return np.asarray(tris, dtype=np.float64), np.asarray(uvs, dtype=np.float64)


def cylinder_mesh(size: np.ndarray, segments: int = CYLINDER_SEGMENTS) -> tuple[np.ndarray, np.ndarray]:
    """Elliptic cylinder filling ``size`` (width, depth, height); UVs wrap around the side."""
    rx, ry, h = size[0] / 2, size[1] / 2, size[2]
    angles = np.linspace(0.0, 2 * np.pi, segments + 1)
    ring = np.stack([rx * np.cos(angles), ry * np.sin(angles)], axis=1)  # (S+1, 2)
    tris, uvs = [], []
    for i in range(segments):
        a0, a1 = ring[i], ring[i + 1]
        b0, b1 = [a0[0], a0[1], 0.0], [a1[0], a1[1], 0.0]
        t0, t1 = [a0[0], a0[1], h], [a1[0], a1[1], h]
        u0, u1 = i / segments, (i + 1) / segments
        tris += [[b0, b1, t1], [b0, t1, t0]]
        uvs += [[(u0, 0), (u1, 0), (u1, 1)], [(u0, 0), (u1, 1), (u0, 1)]]
        for z, flip in ((h, False), (0.0, True)):
            c, p0, p1 = [0.0, 0.0, z], [a0[0], a0[1], z], [a1[0], a1[1], z]
            tri = [c, p1, p0] if flip else [c, p0, p1]
            tris.append(tri)
            uvs.append([(0.5 + q[0] / (2 * rx), 0.5 + q[1] / (2 * ry)) for q in tri])
    return np.asarray(tris, dtype=np.float64), np.asarray(uvs, dtype=np.float64)


def sphere_mesh(
    size: np.ndarray, rings: int = SPHERE_RINGS, segments: int = SPHERE_SEGMENTS
) -> tuple[np.ndarray, np.ndarray]:
    """Ellipsoid filling ``size`` with its base on z = 0; latitude/longitude UVs."""
    radii = np.asarray(size, dtype=np.float64) / 2
    theta = np.linspace(0.0, np.pi, rings + 1)  # from the top pole down
    phi = np.linspace(0.0, 2 * np.pi, segments + 1)
    th, ph = np.meshgrid(theta, phi, indexing="ij")  # (R+1, S+1)
    grid = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=-1)
    grid = grid * radii + np.array([0.0, 0.0, radii[2]])
    uv = np.stack([ph / (2 * np.pi), 1.0 - th / np.pi], axis=-1)  # (R+1, S+1, 2)
    tris, uvs = [], []
    for r in range(rings):
        for s in range(segments):
            a, b, c, d = (r, s), (r + 1, s), (r + 1, s + 1), (r, s + 1)
            for tri in ((a, b, c), (a, c, d)):
                tris.append([grid[i] for i in tri])
                uvs.append([uv[i] for i in tri])
    return np.asarray(tris, dtype=np.float64), np.asarray(uvs, dtype=np.float64)


def tiled_quad(
    origin: np.ndarray,
    u_dir: np.ndarray,
    v_dir: np.ndarray,
    length_u: float,
    length_v: float,
    tile_m: float,
    texture_span_m: float,
    material: Material,
) -> MeshPart:
    """A rectangle split into ``tile_m`` tiles, front side along ``u_dir x v_dir``.

    Each tile maps to its own window of a texture covering ``texture_span_m`` metres, so a large
    surface shows a non-repeating texture, and no triangle is much larger than a tile (the
    TinyRenderer interpolates depth over screen-space triangles; small ones stay accurate).
    """
    origin, u_dir, v_dir = (np.asarray(a, dtype=np.float64) for a in (origin, u_dir, v_dir))
    us = _tile_edges(length_u, tile_m)
    vs = _tile_edges(length_v, tile_m)
    tris, uvs = [], []
    for u0, u1 in zip(us[:-1], us[1:], strict=True):
        for v0, v1 in zip(vs[:-1], vs[1:], strict=True):
            corners = [origin + a * u_dir + b * v_dir for a, b in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))]
            # texture window of this tile: tile starts are multiples of tile_m within the span
            su, sv = (u0 % texture_span_m) - u0, (v0 % texture_span_m) - v0
            tex = [
                ((a + su) / texture_span_m, (b + sv) / texture_span_m)
                for a, b in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))
            ]
            tris += [[corners[0], corners[1], corners[2]], [corners[0], corners[2], corners[3]]]
            uvs += [[tex[0], tex[1], tex[2]], [tex[0], tex[2], tex[3]]]
    positions = np.asarray(tris, dtype=np.float64)
    normal = np.cross(u_dir, v_dir) / np.linalg.norm(np.cross(u_dir, v_dir))
    normals = np.broadcast_to(normal, positions.shape).copy()
    return MeshPart(material, positions, normals, np.asarray(uvs, dtype=np.float64))


def _tile_edges(length: float, tile: float) -> np.ndarray:
    edges = np.arange(0.0, length, tile)
    return np.append(edges, length) if length - edges[-1] > 1e-9 else edges


def smooth_noise(rng: np.random.Generator, px: int, cells: int) -> np.ndarray:
    """(px, px) float noise in [0, 1] from a ``cells``-square random grid, bicubic-upsampled."""
    grid = (rng.random((cells, cells)) * 255).astype(np.uint8)
    img = Image.fromarray(grid).resize((px, px), Image.BICUBIC)
    return np.asarray(img, dtype=np.float64) / 255.0


def pattern_texture(
    rgb: tuple[float, float, float], pattern: str, seed: int, px: int = OBJECT_TEXTURE_PX
) -> np.ndarray:
    """A texture of colour ``rgb`` with a light pattern: stripes, checker or rings."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:px, 0:px] / px
    if pattern == "stripes":
        shade = 0.8 + 0.2 * (np.floor(x * 8) % 2)
    elif pattern == "checker":
        shade = 0.75 + 0.25 * ((np.floor(x * 4) + np.floor(y * 4)) % 2)
    elif pattern == "rings":
        shade = 0.8 + 0.2 * (np.floor(y * 6) % 2)
    else:
        raise ValueError(f"unknown texture pattern {pattern!r}")
    shade = shade * (0.9 + 0.1 * smooth_noise(rng, px, 8))
    return to_uint8(shade[..., None] * np.asarray(rgb))


def wood_floor_texture(rng: np.random.Generator, px: int, span_m: float) -> np.ndarray:
    """Wooden planks 0.2 m wide running along x, staggered joints, grain; covers ``span_m``."""
    base = np.array([0.55, 0.38, 0.22]) * rng.uniform(0.8, 1.2, size=3)
    plank_w, plank_l = 0.2, 1.2  # metres, a common strip-floor plank
    y, x = (np.mgrid[0:px, 0:px] + 0.5) * (span_m / px)
    row = np.floor(y / plank_w).astype(np.int64)
    offset = (row * 0.37) % 1.0 * plank_l  # stagger the joints row by row
    column = np.floor((x + offset) / plank_l).astype(np.int64)
    plank_id = (row * 131 + column * 17) % 97
    plank_shade = 0.8 + 0.4 * rng.random(97)[plank_id]
    grain = 0.9 + 0.1 * np.sin(y * 180.0 + 6.0 * smooth_noise(rng, px, 16))
    joints = np.where(
        (np.abs(y / plank_w - np.round(y / plank_w)) < 0.04)
        | (np.abs(((x + offset) / plank_l) % 1.0) < 0.005),
        0.6,
        1.0,
    )
    return to_uint8((plank_shade * grain * joints)[..., None] * base)


def painted_texture(rng: np.random.Generator, px: int, rgb: np.ndarray, stripes: int = 0) -> np.ndarray:
    """Paint of colour ``rgb``: soft blotches, fine grain, optional vertical wallpaper stripes."""
    shade = 0.95 + 0.05 * smooth_noise(rng, px, 6) + 0.03 * (rng.random((px, px)) - 0.5)
    if stripes:
        x = (np.arange(px) + 0.5) / px
        shade = shade * (0.93 + 0.07 * (np.floor(x * stripes * 2) % 2))[None, :]
    return to_uint8(shade[..., None] * np.asarray(rgb))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] to uint8, rounded and clipped."""
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
