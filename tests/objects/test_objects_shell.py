"""The room's shell: planar slabs at the extremes, only near their planes, found per tile."""

from __future__ import annotations

import torch
from objects_helpers import grid, shell_room

from lerf3d.objects.shell import ceiling_slab, slab_plane_depth, structure_mask


def test_structure_mask_keeps_furniture_and_drops_planes():
    xyz, labels = shell_room()
    shell = structure_mask(xyz, 0.08, 0.02)
    assert bool(shell[labels == 0].all()) and not bool(shell[labels > 0].any())
    top_only = grid((0, 0, 0), (1, 1, 0))  # a sparse top extreme is no ceiling
    tall = torch.cat(
        [
            grid((-2, -2, 0), (2, 2, 0)),
            top_only + torch.tensor([0, 0, 2.0])[None],
            grid((0, 0, 2.05), (0, 0, 2.05)),
        ]
    )
    mask = structure_mask(tall, 0.08, 0.2)
    assert bool(mask[: len(tall) - len(top_only) - 1].all()) and not bool(mask[-1])


def test_structure_mask_band_keeps_what_lies_on_the_floor_or_hangs_on_a_wall():
    xyz, labels = shell_room()
    mat = grid((-1.6, 0.6, 0.04), (-0.6, 1.2, 0.04))  # a mat 4 cm proud of the floor
    poster = grid((1.95, -0.5, 1.0), (1.95, 0.5, 1.6))  # 5 cm off the x = 2 wall
    points = torch.cat([xyz, mat, poster])
    whole_slab = structure_mask(points, 0.08, 0.02)
    assert bool(whole_slab[len(xyz):].all())  # an 8 cm slab takes both
    banded = structure_mask(points, 0.08, 0.02, band_m=0.025)
    assert not bool(banded[len(xyz):].any())
    assert bool(banded[: len(xyz)][labels == 0].all()) and not bool(banded[: len(xyz)][labels > 0].any())
    below = torch.cat([points, torch.tensor([[0.0, 0.0, -0.03]])])  # noise behind the floor plane
    assert bool(structure_mask(below, 0.08, 0.02, band_m=0.025)[-1])


def test_the_shell_plane_is_found_per_tile_where_a_wall_drifts():
    xyz, labels = shell_room()
    drifted = xyz.clone()
    wall = (labels == 0) & (xyz[:, 0] >= 2.0 - 1e-6)  # the x = 2 wall, fused up to 4 cm further in
    drifted[wall, 0] -= 0.04 * (xyz[wall, 1] / 1.5).clamp(0.0, 1.0)  # towards its y = 1.5 end
    shell = structure_mask(drifted, 0.08, 0.02, band_m=0.025)
    assert bool(shell[labels == 0].all()) and not bool(shell[labels > 0].any())
    depth = torch.tensor([0.005, 0.006, 0.045, 0.046, 0.047, 0.07])
    across = torch.tensor([[0.1, 0.1], [0.2, 0.1], [1.1, 0.1], [1.2, 0.1], [1.3, 0.1], [1.2, 0.2]])
    planes = slab_plane_depth(depth, across)  # two tiles: planes at 0.5 cm and 4.5 cm
    torch.testing.assert_close(planes, torch.tensor([0.005, 0.005, 0.045, 0.045, 0.045, 0.045]))


def test_the_ceiling_slab_is_the_top_slab_when_it_is_a_plane_or_walls_reach_it():
    xyz, labels = shell_room()
    slab = ceiling_slab(xyz, 0.08, 0.02)
    ceiling = (labels == 0) & (xyz[:, 2] >= 2.5 - 1e-6)
    assert bool(slab[ceiling].all()) and bool((xyz[slab, 2] >= 2.42 - 1e-6).all())
    seen = ~((labels == 0) & (xyz[:, 2] >= 2.5 - 1e-6) & (xyz[:, 0] > -1.7))  # the ceiling only along x = -2
    strip = ceiling_slab(xyz[seen], 0.08, 0.1)  # under 10 % of the points: no plane, but walls reach it
    assert float(strip.float().mean()) < 0.1 and bool(strip[xyz[seen][:, 2] >= 2.5 - 1e-6].all())
    cabinet_top = torch.cat([grid((-2, -1.5, 0), (2, 1.5, 0)), grid((0, 0, 1.8), (0.2, 0.2, 1.8))])
    assert not bool(ceiling_slab(cabinet_top, 0.08, 0.02).any())  # a cabinet's top is not a ceiling
    assert ceiling_slab(xyz[:0], 0.08, 0.02).shape == (0,)
