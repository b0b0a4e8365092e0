"""Rendering a furnished room with pybullet's CPU TinyRenderer: RGB, metric depth, instance ids.

Every material of every model is its own pybullet body (the OBJ loader keeps one texture per
visual shape), so the segmentation buffer gives a body id that maps back to the object's instance
id. The room shell (floor, walls, ceiling) is generated here with procedural textures.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet as p
from PIL import Image

from data_tools.assets import PreparedModel, RenderPart
from data_tools.camera import (
    TINY_RENDERER_SAMPLE_OFFSET,
    depth_from_zbuffer,
    opengl_projection_matrix,
    opengl_view_matrix,
    to_pybullet,
)
from data_tools.objmesh import Material, write_obj
from data_tools.primitives import painted_texture, tiled_quad, wood_floor_texture
from data_tools.rooms import RoomLayout, Surface
from lerf3d.types import Intrinsics

SHELL_TILE_M = 0.5
"""Floor/wall/ceiling triangles are at most this big (m), keeping depth interpolation accurate."""

FLOOR_TEXTURE = (4.0, 512)
"""(span in metres, pixels) of the floor texture: 128 px per metre."""

WALL_TEXTURE = (2.0, 256)
"""(span in metres, pixels) of wall and ceiling textures."""

WALL_PAINTS = (
    (0.86, 0.82, 0.72),
    (0.72, 0.80, 0.86),
    (0.80, 0.86, 0.74),
    (0.88, 0.76, 0.70),
    (0.78, 0.74, 0.84),
    (0.90, 0.88, 0.82),
)
"""Pale interior paint colours; a room picks one for three walls and another for an accent wall."""

WALLPAPER_STRIPES = 8
"""Stripe pairs per wall texture span on the accent wall (one every 12.5 cm at a 2 m span)."""

CEILING_PAINT = (0.93, 0.93, 0.91)
"""Off-white ceiling."""

LIGHT_AMBIENT, LIGHT_DIFFUSE, LIGHT_SPECULAR = 0.55, 0.45, 0.03
"""TinyRenderer shading: intensity = ambient + min(diffuse * cos + specular * spec, 1 - ambient).
A high ambient share stands in for the indirect light of a closed room (the renderer has none)."""

LIGHT_ELEVATION_DEG = (50.0, 70.0)
"""Elevation range of the directional light: from above, so every wall gets some light."""


@dataclass(frozen=True, eq=False)
class RenderedView:
    """One rendered camera view."""

    rgb: np.ndarray
    """(H, W, 3) uint8 colour."""
    depth: np.ndarray
    """(H, W) float32 z-depth in metres; 0 where nothing was hit."""
    instance: np.ndarray
    """(H, W) uint16 instance ids; 0 where nothing was hit."""


class RoomRenderer:
    """A pybullet DIRECT session holding one room; call :meth:`render` per camera, then :meth:`close`."""

    def __init__(
        self,
        layout: RoomLayout,
        models: Mapping[str, PreparedModel],
        rng: np.random.Generator,
        instance_parts: Mapping[int, Sequence[RenderPart]] | None = None,
    ) -> None:
        """``instance_parts``: parts to render instead of an object's model's, by instance id
        (restyled objects, :mod:`data_tools.restyle`)."""
        self._tmp = tempfile.TemporaryDirectory(prefix="lerf3d-room-")
        self._client = p.connect(p.DIRECT)
        self._textures: dict[Path, int] = {}
        self._body_instance: dict[int, int] = {}
        try:
            for iid, part in write_shell(layout, rng, Path(self._tmp.name)):
                self._add_body(part, iid, (0.0, 0.0, 0.0), 0)
            for obj in layout.objects:
                parts = (instance_parts or {}).get(obj.instance_id, models[obj.entry.catalog_id].parts)
                for part in parts:
                    self._add_body(part, obj.instance_id, obj.position, obj.yaw_deg)
        except Exception:
            self.close()
            raise
        self._lut = self._instance_lut()
        azimuth = rng.uniform(0.0, 2 * math.pi)
        elevation = math.radians(rng.uniform(*LIGHT_ELEVATION_DEG))
        self.light_direction = [
            math.cos(elevation) * math.cos(azimuth),
            math.cos(elevation) * math.sin(azimuth),
            math.sin(elevation),
        ]

    def __enter__(self) -> RoomRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect pybullet and delete the shell's temporary files."""
        if self._client is not None and self._client >= 0:
            p.disconnect(physicsClientId=self._client)
        self._client = None
        self._tmp.cleanup()

    def _add_body(self, part: RenderPart, instance_id: int, position, yaw_deg: int) -> None:
        cid = self._client
        shape = p.createVisualShape(
            p.GEOM_MESH, fileName=str(part.obj_path), rgbaColor=list(part.rgba), physicsClientId=cid
        )
        if shape < 0:
            raise RuntimeError(f"pybullet could not load mesh {part.obj_path}")
        orientation = p.getQuaternionFromEuler([0.0, 0.0, math.radians(yaw_deg)])
        body = p.createMultiBody(
            baseMass=0,
            baseVisualShapeIndex=shape,
            basePosition=list(position),
            baseOrientation=orientation,
            physicsClientId=cid,
        )
        if part.texture_path is not None:
            if part.texture_path not in self._textures:
                self._textures[part.texture_path] = p.loadTexture(str(part.texture_path), physicsClientId=cid)
            p.changeVisualShape(
                body,
                -1,
                textureUniqueId=self._textures[part.texture_path],
                rgbaColor=list(part.rgba),
                physicsClientId=cid,
            )
        self._body_instance[body] = instance_id

    def _instance_lut(self) -> np.ndarray:
        """Lookup table body id + 1 -> instance id (index 0 is the background, -1)."""
        lut = np.zeros(max(self._body_instance) + 2, dtype=np.uint16)
        for body, iid in self._body_instance.items():
            lut[body + 1] = iid
        return lut

    def render(
        self, camera_to_world: np.ndarray, intrinsics: Intrinsics, near: float, far: float
    ) -> RenderedView:
        """Render one view with the exact pose (OpenCV camera-to-world) and intrinsics."""
        w, h = intrinsics.width, intrinsics.height
        view = opengl_view_matrix(camera_to_world)
        proj = opengl_projection_matrix(intrinsics, near, far, TINY_RENDERER_SAMPLE_OFFSET)
        _, _, rgba, zbuf, seg = p.getCameraImage(
            w,
            h,
            to_pybullet(view),
            to_pybullet(proj),
            renderer=p.ER_TINY_RENDERER,
            shadow=0,
            lightDirection=self.light_direction,
            lightColor=[1.0, 1.0, 1.0],
            lightAmbientCoeff=LIGHT_AMBIENT,
            lightDiffuseCoeff=LIGHT_DIFFUSE,
            lightSpecularCoeff=LIGHT_SPECULAR,
            physicsClientId=self._client,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(h, w, 4)[..., :3]  # (H, W, 3)
        seg = np.asarray(seg, dtype=np.int64).reshape(h, w)  # (H, W) body ids, -1 background
        depth = depth_from_zbuffer(np.asarray(zbuf, dtype=np.float64).reshape(h, w), near, far)  # (H, W)
        hit = (seg >= 0) & (depth < far * (1 - 1e-6))
        depth = np.where(hit, depth, 0.0).astype(np.float32)
        instance = np.where(hit, self._lut[np.clip(seg + 1, 0, len(self._lut) - 1)], 0).astype(np.uint16)
        return RenderedView(rgb=np.ascontiguousarray(rgb), depth=depth, instance=instance)


def write_shell(layout: RoomLayout, rng: np.random.Generator, folder: Path) -> list[tuple[int, RenderPart]]:
    """Write floor, wall and ceiling meshes with procedural textures; (instance id, part) pairs."""
    paints = rng.permutation(len(WALL_PAINTS))
    main, accent = WALL_PAINTS[paints[0]], WALL_PAINTS[paints[1]]
    accent_wall = int(rng.integers(4))
    out = []
    wall_index = 0
    for surface in layout.surfaces:
        if surface.label == "floor":
            span, px = FLOOR_TEXTURE
            texture = wood_floor_texture(rng, px, span)
        else:
            span, px = WALL_TEXTURE
            paint, stripes = CEILING_PAINT, 0
            if surface.label == "wall":
                is_accent = wall_index == accent_wall
                paint, stripes = (accent, WALLPAPER_STRIPES) if is_accent else (main, 0)
                wall_index += 1
            texture = painted_texture(rng, px, np.asarray(paint), stripes)
        out.append((surface.instance_id, _write_surface(surface, texture, span, folder)))
    return out


def _write_surface(surface: Surface, texture: np.ndarray, span: float, folder: Path) -> RenderPart:
    name = f"surface_{surface.instance_id}"
    material = Material(name=name, diffuse=(1.0, 1.0, 1.0), texture=f"{name}.png")
    part = tiled_quad(
        surface.origin, surface.u_dir, surface.v_dir, *surface.size_uv, SHELL_TILE_M, span, material
    )
    write_obj(folder / f"{name}.obj", part)
    Image.fromarray(texture).save(folder / f"{name}.png")
    return RenderPart(
        obj_path=folder / f"{name}.obj", rgba=(1.0, 1.0, 1.0, 1.0), texture_path=folder / f"{name}.png"
    )
