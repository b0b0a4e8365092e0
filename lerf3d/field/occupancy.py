"""A coarse occupancy grid from fused surface points, used to skip empty space when sampling."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float

OCCUPANCY_VOXEL = 0.05
"""Occupancy voxel edge (m) guiding rays without depth: about a furniture leg; ~10^5-10^6 voxels per room."""

@dataclass(frozen=True, eq=False)
class OccupancyGrid:
    """Boolean voxels over an axis-aligned box; True where a surface point fell (after dilation)."""

    occupied: Bool[torch.Tensor, "X Y Z"]
    """Voxel occupancy, x-major."""
    lower: Float[torch.Tensor, "3"]
    """Minimum corner of the box (m)."""
    upper: Float[torch.Tensor, "3"]
    """Maximum corner of the box (m)."""

    @staticmethod
    def from_points(
        points: Float[torch.Tensor, "N 3"],
        lower: Float[torch.Tensor, "3"],
        upper: Float[torch.Tensor, "3"],
        voxel_size: float = OCCUPANCY_VOXEL,
        dilation: int = 1,
    ) -> OccupancyGrid:
        """Mark voxels holding a point, then grow them by ``dilation`` voxels (depth noise, thin parts)."""
        if voxel_size <= 0 or dilation < 0:
            raise ValueError(f"need voxel_size > 0 and dilation >= 0, got {voxel_size}, {dilation}")
        extent = (upper - lower).tolist()
        dims = [max(1, math.ceil(e / voxel_size)) for e in extent]
        occupied = torch.zeros(dims, dtype=torch.bool, device=points.device)
        cell = _voxel_of(points, lower, upper, dims)
        keep = ((cell >= 0) & (cell < torch.tensor(dims, device=points.device))).all(dim=-1)
        cell = cell[keep]
        occupied[cell[:, 0], cell[:, 1], cell[:, 2]] = True
        if dilation > 0:
            size = 2 * dilation + 1
            grown = torch.nn.functional.max_pool3d(
                occupied[None, None].float(), size, stride=1, padding=dilation
            )
            occupied = grown[0, 0] > 0
        return OccupancyGrid(occupied, lower, upper)

    def query(self, points: Float[torch.Tensor, "*B 3"]) -> Bool[torch.Tensor, "*B"]:
        """Occupancy at points; False outside the box."""
        dims = list(self.occupied.shape)
        cell = _voxel_of(points, self.lower, self.upper, dims)
        inside = ((cell >= 0) & (cell < torch.tensor(dims, device=points.device))).all(dim=-1)
        cell = torch.minimum(cell.clamp_min(0), torch.tensor(dims, device=points.device) - 1)
        return self.occupied[cell[..., 0], cell[..., 1], cell[..., 2]] & inside

    def to(self, device: torch.device | str) -> OccupancyGrid:
        return OccupancyGrid(self.occupied.to(device), self.lower.to(device), self.upper.to(device))


def _voxel_of(
    points: Float[torch.Tensor, "*B 3"],
    lower: Float[torch.Tensor, "3"],
    upper: Float[torch.Tensor, "3"],
    dims: list[int],
) -> torch.Tensor:
    scale = torch.tensor(dims, dtype=points.dtype, device=points.device) / (upper - lower).to(points.dtype)
    return ((points - lower.to(points.dtype)) * scale).floor().long()
