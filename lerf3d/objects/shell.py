"""The room's shell (floor, ceiling and the four walls of an axis-aligned room), found as planar
slabs at the extremes of a point set (pure functions; step 1 of :mod:`lerf3d.objects.segment`).

A slab is shell only when it holds a real share of the points (a plane), not just the top of a
wardrobe; with a plane band, only the slab's points near its plane are shell, so what stands on the
floor or hangs on a wall a few centimetres proud of it (a mat, slippers, a chair's feet) stays.
Stated limit: walls along the world x/y axes (generated rooms, and ScanNet-style scans after their
axis alignment).
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float

PLANE_BIN_M = 0.01
"""Depth bins (along the slab's axis) in which a shell slab's plane is found: its densest one."""
PLANE_TILE_M = 0.5
"""A fused wall is not flat to the centimetre (its depth drifts by a couple of centimetres along a
room's side), so the plane is found per square tile of this side across the slab."""
PLANE_MIN_SHARE = 0.3
"""A tile's densest bin is its plane when it holds this share of the tile's slab points; otherwise
(a tile where the wall itself was hardly seen, behind a wardrobe) the whole slab's densest bin is."""


def slab_plane_depth(
    depth: Float[torch.Tensor, " M"], across: Float[torch.Tensor, "M 2"]
) -> Float[torch.Tensor, " M"]:
    """Depth of the shell's plane under each of a slab's points (``depth`` into the room, ``across``
    the two in-plane coordinates): the centre of the densest ``PLANE_BIN_M`` bin of its
    ``PLANE_TILE_M`` tile, or of the whole slab where the tile has no clear plane."""
    bins = torch.floor(depth / PLANE_BIN_M).long()  # (M,)
    whole = (float(torch.bincount(bins).argmax()) + 0.5) * PLANE_BIN_M
    tiles = torch.floor((across - across.amin(0)) / PLANE_TILE_M).long()  # (M, 2)
    _, tile = torch.unique(tiles[:, 0] * (int(tiles[:, 1].max()) + 1) + tiles[:, 1], return_inverse=True)
    hist = torch.zeros(int(tile.max()) + 1, int(bins.max()) + 1, dtype=torch.long, device=depth.device)
    hist.index_put_((tile, bins), torch.ones_like(bins), accumulate=True)  # (T, B)
    share = hist.amax(1).float() / hist.sum(1).float()
    plane = torch.where(share >= PLANE_MIN_SHARE, (hist.argmax(1).float() + 0.5) * PLANE_BIN_M,
                        torch.full_like(share, whole))  # (T,)
    return plane[tile]


def structure_mask(
    xyz: Float[torch.Tensor, "N 3"], margin_m: float, min_fraction: float, band_m: float | None = None
) -> Bool[torch.Tensor, " N"]:
    """Points in a planar slab at an extreme of x, y or z (walls, floor, ceiling): the slab within
    ``margin_m`` of the extreme holds at least ``min_fraction`` of the points. With ``band_m``, a
    slab's shell is only its points within ``band_m`` of its plane (:func:`slab_plane_depth`) or
    beyond it, away from the room."""
    shell = torch.zeros(xyz.shape[0], dtype=torch.bool, device=xyz.device)
    if xyz.shape[0] == 0:
        return shell
    lower, upper = xyz.amin(0), xyz.amax(0)
    for axis in range(3):
        across = [a for a in range(3) if a != axis]
        for extreme, inward in ((lower[axis], 1.0), (upper[axis], -1.0)):
            depth = (xyz[:, axis] - extreme) * inward  # (N,) >= 0: how far into the room
            slab = depth <= margin_m
            if slab.float().mean() < min_fraction:
                continue
            if band_m is not None:
                members = torch.nonzero(slab).squeeze(1)
                plane = slab_plane_depth(depth[members], xyz[members][:, across])
                slab = torch.zeros_like(slab)
                slab[members[depth[members] <= plane + band_m]] = True
            shell |= slab
    return shell


def ceiling_slab(xyz: Float[torch.Tensor, "N 3"], margin_m: float, min_fraction: float) -> Bool[torch.Tensor, " N"]:
    """Points within ``margin_m`` of the top of the point set when that top is the room's ceiling:
    the slab is a plane (it holds at least ``min_fraction`` of the points), or a wall (a slab at an
    x or y extreme holding as much) reaches it, as when a capture filmed at eye height saw the
    ceiling only in a strip along one wall. None otherwise (a capture of a few pieces and no walls,
    whose top is the top of a cabinet)."""
    none = torch.zeros(xyz.shape[0], dtype=torch.bool, device=xyz.device)
    if xyz.shape[0] == 0:
        return none
    top = xyz[:, 2] >= xyz[:, 2].max() - margin_m
    if float(top.float().mean()) >= min_fraction:
        return top
    lower, upper = xyz.amin(0), xyz.amax(0)
    for axis in (0, 1):
        for depth in (xyz[:, axis] - lower[axis], upper[axis] - xyz[:, axis]):
            wall = depth <= margin_m
            if float(wall.float().mean()) >= min_fraction and bool((wall & top).any()):
                return top
    return none
