"""Which captured views see each object: a depth-tested projection of a sample of its points."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float, Int

from lerf3d.geometry import visible_mask
from lerf3d.query.camera import QueryCamera

VIEW_SAMPLES = 256
"""Member points per object projected to find the views that see it."""
MIN_VIEW_FRACTION = 0.1
"""A view sees an object when at least this share of its sampled points pass the depth test."""


def sample_members(
    point_object: Int[torch.Tensor, " N"], num_objects: int, per_object: int, seed: int = 0
) -> tuple[Int[torch.Tensor, " M"], Int[torch.Tensor, " M"]]:
    """Up to ``per_object`` random member points of each object: (point indices, their object)."""
    generator = torch.Generator().manual_seed(seed)
    picked, owner = [], []
    for k in range(num_objects):
        members = torch.nonzero(point_object.cpu() == k).squeeze(1)
        if len(members) > per_object:
            members = members[torch.randperm(len(members), generator=generator)[:per_object]]
        picked.append(members)
        owner.append(torch.full((len(members),), k, dtype=torch.long))
    if not picked:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    return torch.cat(picked), torch.cat(owner)


def object_views(
    xyz: Float[torch.Tensor, "N 3"],
    point_object: Int[torch.Tensor, " N"],
    num_objects: int,
    cameras: Sequence[QueryCamera],
    per_object: int,
    min_fraction: float,
) -> tuple[tuple[str, ...], ...]:
    """Per object, the names of the cameras in which at least ``min_fraction`` of its sampled points
    are the measured surface, the most-seeing camera first. Cameras without depth are skipped (a
    projection alone cannot tell a visible point from an occluded one)."""
    picked, owner = sample_members(point_object, num_objects, per_object)
    points = xyz[picked.to(xyz.device)].cpu().float()
    totals = torch.bincount(owner, minlength=num_objects).clamp_min(1).float()
    seen: list[list[tuple[float, str]]] = [[] for _ in range(num_objects)]
    for camera in cameras:
        if camera.depth is None:
            continue
        depth = torch.as_tensor(camera.depth, dtype=torch.float32)
        visible = visible_mask(points, camera.camera_to_world, camera.intrinsics, depth)
        fraction = torch.bincount(owner[visible], minlength=num_objects).float() / totals  # (K,)
        for k in torch.nonzero(fraction >= min_fraction).squeeze(1).tolist():
            seen[k].append((float(fraction[k]), camera.name))
    return tuple(tuple(name for _, name in sorted(entries, key=lambda e: -e[0])) for entries in seen)
