"""Rays of a pinhole camera (OpenCV convention) and the ray batch the field renders."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from jaxtyping import Float, Int

from lerf3d.geometry import PIXEL_CENTRE
from lerf3d.types import Intrinsics


@dataclass(frozen=True, eq=False)
class RayBundle:
    """A batch of R rays in world coordinates, with what the trainer knows about each."""

    origins: Float[torch.Tensor, "R 3"]
    """Camera centres (m)."""
    directions: Float[torch.Tensor, "R 3"]
    """Unit directions."""
    z_scale: Float[torch.Tensor, "R"]
    """direction . camera forward: a z-depth is ``t * z_scale`` for ray distance t."""
    near: Float[torch.Tensor, "R"]
    """Ray distance where sampling starts (m)."""
    far: Float[torch.Tensor, "R"]
    """Ray distance where sampling stops when there is no depth (m)."""
    depth: Float[torch.Tensor, "R"] | None = None
    """Measured z-depth (m) per ray, 0 where missing; None when no ray has one."""
    clip_scale_per_depth: Float[torch.Tensor, "R"] | None = None
    """Crop side / f_y of the pyramid level each ray's CLIP target came from: the CLIP scale of a
    sample at z-depth z is this times z metres (training only)."""
    camera_indices: Int[torch.Tensor, "R"] | None = None
    """Image each ray came from (appearance embedding); None at novel views."""

    def __post_init__(self) -> None:
        r = self.origins.shape[0]
        if self.origins.shape != (r, 3) or self.directions.shape != (r, 3):
            raise ValueError(
                f"origins/directions must be (R, 3), got {self.origins.shape}, {self.directions.shape}"
            )
        for name in ("z_scale", "near", "far", "depth", "clip_scale_per_depth", "camera_indices"):
            value = getattr(self, name)
            if value is not None and value.shape != (r,):
                raise ValueError(f"RayBundle.{name} must have shape ({r},), got {tuple(value.shape)}")

    def __len__(self) -> int:
        return self.origins.shape[0]

    def slice(self, start: int, stop: int) -> RayBundle:
        """Rays start..stop (for chunked rendering)."""
        fields = {k: v[start:stop] if v is not None else None for k, v in self.__dict__.items()}
        return RayBundle(**fields)


def camera_rays(
    pixels: Int[torch.Tensor, "R 2"],
    fx_fy_cx_cy: Float[torch.Tensor, "R 4"],
    camera_to_world: Float[torch.Tensor, "R 4 4"],
) -> tuple[Float[torch.Tensor, "R 3"], Float[torch.Tensor, "R 3"], Float[torch.Tensor, "R"]]:
    """Origins, unit directions and z_scale of rays through pixel centres (column, row).

    OpenCV camera: x right, y down, z forward; the pixel centre (u, v) looks along
    ((u - cx) / fx, (v - cy) / fy, 1) in the camera frame.
    """
    fx, fy, cx, cy = fx_fy_cx_cy.unbind(-1)
    uv = pixels.to(fx_fy_cx_cy.dtype) + PIXEL_CENTRE
    cam = torch.stack([(uv[:, 0] - cx) / fx, (uv[:, 1] - cy) / fy, torch.ones_like(fx)], dim=-1)
    inv_norm = torch.rsqrt((cam * cam).sum(dim=-1))
    rotation = camera_to_world[:, :3, :3]
    directions = torch.einsum("rij,rj->ri", rotation, cam * inv_norm[:, None])
    # The camera-frame z of a unit direction is 1 / |cam|: the cosine to the forward axis.
    return camera_to_world[:, :3, 3], directions, inv_norm


def grid_rays(
    intrinsics: Intrinsics, camera_to_world: Float[torch.Tensor, "4 4"], height: int, width: int
) -> tuple[Float[torch.Tensor, "R 3"], Float[torch.Tensor, "R 3"], Float[torch.Tensor, " R"], Int[torch.Tensor, "R 2"]]:
    """Origins, directions, z_scale and integer (column, row) pixels of every pixel of a
    ``height`` x ``width`` image, row-major (ray index = row * width + column)."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    pixels = torch.stack([cols, rows], dim=-1).reshape(-1, 2).to(camera_to_world.device)  # (H*W, 2)
    k = torch.tensor(
        [intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy],
        dtype=camera_to_world.dtype,
        device=camera_to_world.device,
    ).expand(len(pixels), 4)
    origins, directions, z_scale = camera_rays(pixels, k, camera_to_world.expand(len(pixels), 4, 4))
    return origins, directions, z_scale, pixels


def image_rays(
    intrinsics: Intrinsics,
    camera_to_world: Float[torch.Tensor, "4 4"],
    near: float,
    far: float,
) -> RayBundle:
    """One ray per pixel of an image, row-major (ray index = row * width + column)."""
    origins, directions, z_scale, _ = grid_rays(intrinsics, camera_to_world, intrinsics.height, intrinsics.width)
    return RayBundle(
        origins, directions, z_scale, torch.full_like(z_scale, near), torch.full_like(z_scale, far)
    )


def intersect_box(
    origins: Float[torch.Tensor, "R 3"],
    directions: Float[torch.Tensor, "R 3"],
    lower: Float[torch.Tensor, "3"],
    upper: Float[torch.Tensor, "3"],
) -> tuple[Float[torch.Tensor, "R"], Float[torch.Tensor, "R"]]:
    """Slab-method entry and exit distances of an axis-aligned box; exit < entry when missed."""
    safe = torch.where(directions.abs() < 1e-12, torch.full_like(directions, 1e-12), directions)
    t0, t1 = (lower - origins) / safe, (upper - origins) / safe
    return torch.minimum(t0, t1).amax(dim=-1), torch.maximum(t0, t1).amin(dim=-1)


def clip_to_box(
    rays: RayBundle, lower: Float[torch.Tensor, "3"], upper: Float[torch.Tensor, "3"], min_near: float
) -> RayBundle:
    """near/far set to where each ray crosses the box (near at least ``min_near``).

    Rays that miss the box get far = near, i.e. zero-length bins that render as background.
    """
    entry, exit_ = intersect_box(rays.origins, rays.directions, lower, upper)
    near = entry.clamp_min(min_near)
    return replace(rays, near=near, far=torch.maximum(exit_, near))
