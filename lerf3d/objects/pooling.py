"""Pooling rows of a point set by group (segments, voxels): pure functions."""

from __future__ import annotations

import torch
from jaxtyping import Float, Int


def scatter_mean(
    values: Float[torch.Tensor, "N C"], index: Int[torch.Tensor, " N"], num_groups: int
) -> Float[torch.Tensor, "G C"]:
    """Mean of the rows of ``values`` sharing each index (groups with no rows give 0)."""
    sums = values.new_zeros(num_groups, values.shape[1]).index_add_(0, index, values)
    counts = torch.bincount(index, minlength=num_groups).clamp_min(1).to(values.dtype)
    return sums / counts[:, None]


def scatter_bounds(
    xyz: Float[torch.Tensor, "N 3"], index: Int[torch.Tensor, " N"], num_groups: int
) -> tuple[Float[torch.Tensor, "G 3"], Float[torch.Tensor, "G 3"]]:
    """Per group the axis-aligned box of its rows: (lower, upper); +inf/-inf for empty groups."""
    expanded = index[:, None].expand(-1, xyz.shape[1])  # (N, 3)
    lower = xyz.new_full((num_groups, xyz.shape[1]), float("inf")).scatter_reduce_(0, expanded, xyz, "amin")
    upper = xyz.new_full((num_groups, xyz.shape[1]), float("-inf")).scatter_reduce_(0, expanded, xyz, "amax")
    return lower, upper
