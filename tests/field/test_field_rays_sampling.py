"""Camera rays, box clipping, depth-guided / occupancy-guided sampling and contraction."""

from __future__ import annotations

import math

import pytest
import torch

from lerf3d.field.contraction import ContractionConfig, contract_linf, to_unit_cube
from lerf3d.field.occupancy import OccupancyGrid
from lerf3d.field.rays import RayBundle, camera_rays, clip_to_box, image_rays, intersect_box
from lerf3d.field.sampling import (
    SamplerConfig,
    inverse_cdf_edges,
    jitter_edges,
    sample_along_rays,
)
from lerf3d.types import Intrinsics

# A camera at (1, 2, 1.5) looking along world +y, image "down" = world -z (x right = world +x).
POSE = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 2.0], [0.0, -1.0, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]])
K = Intrinsics(fx=100.0, fy=120.0, cx=32.5, cy=24.5, width=65, height=49)


def _rays(pixels: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pix = torch.tensor(pixels)
    k = torch.tensor([K.fx, K.fy, K.cx, K.cy]).expand(len(pixels), 4)
    return camera_rays(pix, k, POSE.expand(len(pixels), 4, 4))


def test_centre_pixel_looks_along_camera_forward():
    origins, directions, z_scale = _rays([[32, 24]])  # centre (32.5, 24.5) = principal point
    torch.testing.assert_close(origins[0], torch.tensor([1.0, 2.0, 1.5]))
    torch.testing.assert_close(directions[0], POSE[:3, 2])
    assert z_scale.item() == 1.0


def test_off_axis_pixel_direction_and_z_depth():
    _, directions, z_scale = _rays([[0, 0]])  # top-left: camera (-32/100, -24/120, 1)
    cam = torch.tensor([-0.32, -0.2, 1.0])
    torch.testing.assert_close(directions[0], POSE[:3, :3] @ (cam / cam.norm()))
    torch.testing.assert_close(z_scale[0], 1 / cam.norm())
    # A point at z-depth 3 m along this ray sits at camera-frame z = 3.
    t = 3.0 / z_scale[0]
    point = POSE[:3, 3] + t * directions[0]
    camera_frame = POSE[:3, :3].T @ (point - POSE[:3, 3])
    assert math.isclose(camera_frame[2].item(), 3.0, rel_tol=1e-6)
    assert camera_frame[0] < 0 and camera_frame[1] < 0  # left and up in the image


def test_image_rays_are_row_major():
    rays = image_rays(K, POSE, near=0.1, far=5.0)
    assert len(rays) == 65 * 49
    _, expected, _ = _rays([[5, 2]])
    torch.testing.assert_close(rays.directions[2 * 65 + 5], expected[0])
    assert rays.near.unique().tolist() == [pytest.approx(0.1)]


def test_box_intersection_and_clipping():
    origins = torch.tensor([[0.5, 0.5, 0.5], [-1.0, 0.5, 0.5], [-1.0, 5.0, 0.5]])
    directions = torch.tensor([[1.0, 0.0, 0.0]] * 3)
    lower, upper = torch.zeros(3), torch.ones(3)
    entry, exit_ = intersect_box(origins, directions, lower, upper)
    torch.testing.assert_close(entry[:2], torch.tensor([-0.5, 1.0]))
    torch.testing.assert_close(exit_[:2], torch.tensor([0.5, 2.0]))
    assert exit_[2] < entry[2]  # misses
    rays = RayBundle(origins, directions, torch.ones(3), torch.zeros(3), torch.full((3,), 9.0))
    clipped = clip_to_box(rays, lower, upper, min_near=0.05)
    torch.testing.assert_close(clipped.near, torch.tensor([0.05, 1.0, clipped.near[2].item()]))
    torch.testing.assert_close(clipped.far[:2], torch.tensor([0.5, 2.0]))
    assert clipped.far[2] == clipped.near[2]


def _depth_rays(depth: torch.Tensor, z_scale: torch.Tensor) -> RayBundle:
    n = len(depth)
    return RayBundle(
        torch.zeros(n, 3),
        torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3),
        z_scale,
        torch.full((n,), 0.1),
        torch.full((n,), 8.0),
        depth=depth,
    )


def test_depth_guided_samples_lie_in_the_band():
    config = SamplerConfig(num_surface_samples=24, num_free_samples=8, band_fraction=0.05, min_band=0.03)
    depth = torch.tensor([2.0, 0.5, 4.0, 0.0])
    z_scale = torch.tensor([1.0, 0.8, 0.5, 1.0])
    samples = sample_along_rays(
        _depth_rays(depth, z_scale), config, jitter=True, generator=torch.Generator().manual_seed(0)
    )
    assert samples.edges.shape == (4, 33)
    assert (samples.deltas >= 0).all()
    surface_t = torch.tensor([2.0, 0.625, 8.0])
    band = torch.tensor([0.1, 0.03125, 0.4])  # max(5% of t, 3 cm)
    torch.testing.assert_close(samples.surface_t[:3], surface_t)
    torch.testing.assert_close(samples.band[:3], band)
    mids = samples.t_mids[:3]
    in_band = mids[:, 8:]
    assert ((in_band >= (surface_t - band)[:, None]) & (in_band <= (surface_t + band)[:, None])).all()
    assert (mids[:, :8] <= (surface_t - band)[:, None]).all() and (mids[:, :8] >= 0.1).all()
    # the ray without depth is stratified over [near, far]
    assert not samples.has_depth[3] and samples.edges[3, 0] == 0.1 and samples.edges[3, -1] == 8.0
    spacing = samples.deltas[3]
    assert spacing.min() > 0 and spacing.max() < 2 * 7.9 / 32


def test_band_starting_before_near_collapses_free_bins():
    config = SamplerConfig(num_surface_samples=4, num_free_samples=2, band_fraction=0.0, min_band=0.5)
    samples = sample_along_rays(_depth_rays(torch.tensor([0.3]), torch.ones(1)), config)
    torch.testing.assert_close(samples.edges[0], torch.tensor([0.1, 0.1, 0.1, 0.275, 0.45, 0.625, 0.8]))


def test_jitter_keeps_edges_sorted_and_ends_fixed():
    edges = torch.linspace(0, 1, 11).expand(50, 11)
    jittered = jitter_edges(edges, torch.Generator().manual_seed(0))
    assert (jittered[:, 1:] >= jittered[:, :-1]).all()
    assert (jittered[:, 0] == 0).all() and (jittered[:, -1] == 1).all()
    assert (jittered - edges).abs().max() <= 0.05 + 1e-6


def test_inverse_cdf_concentrates_bins_where_the_pdf_is():
    edges = torch.linspace(0.0, 4.0, 5)[None]  # bins [0,1) [1,2) [2,3) [3,4)
    pdf = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    torch.testing.assert_close(inverse_cdf_edges(edges, pdf, 4)[0], torch.tensor([2.0, 2.25, 2.5, 2.75, 3.0]))
    pdf = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    torch.testing.assert_close(inverse_cdf_edges(edges, pdf, 2)[0], torch.tensor([0.0, 2.0, 4.0]))


def test_occupancy_grid_from_points_and_query():
    lower, upper = torch.zeros(3), torch.tensor([2.0, 2.0, 1.0])
    points = torch.tensor([[1.02, 1.02, 0.52], [5.0, 5.0, 5.0]])  # the second is outside: ignored
    grid = OccupancyGrid.from_points(points, lower, upper, voxel_size=0.1, dilation=0)
    assert grid.occupied.shape == (20, 20, 10) and grid.occupied.sum() == 1
    hits = grid.query(torch.tensor([[1.05, 1.01, 0.58], [1.15, 1.05, 0.55], [-1.0, 1.0, 0.5]]))
    assert hits.tolist() == [True, False, False]
    grown = OccupancyGrid.from_points(points, lower, upper, voxel_size=0.1, dilation=1)
    assert grown.occupied.sum() == 27 and grown.query(torch.tensor([[1.15, 1.05, 0.55]])).item()


def test_occupancy_guided_sampling_puts_most_bins_on_occupied_space():
    lower, upper = torch.zeros(3), torch.full((3,), 4.0)
    wall = torch.stack(torch.meshgrid(torch.linspace(0, 4, 41), torch.linspace(0, 4, 41), indexing="ij"), -1)
    points = torch.cat([wall.reshape(-1, 2), torch.full((41 * 41, 1), 3.0)], dim=-1)  # plane z = 3
    grid = OccupancyGrid.from_points(points, lower, upper, voxel_size=0.1, dilation=1)
    rays = RayBundle(
        torch.tensor([[2.0, 2.0, 0.05]]),
        torch.tensor([[0.0, 0.0, 1.0]]),
        torch.ones(1),
        torch.zeros(1),
        torch.full((1,), 3.9),
    )
    samples = sample_along_rays(
        rays, SamplerConfig(num_surface_samples=24, num_free_samples=8), occupancy=grid
    )
    near_wall = ((samples.t_mids - 2.95).abs() < 0.2).float().mean().item()
    assert near_wall > 0.6  # uniform sampling would put 0.4 / 3.9 ~ 10% there


def test_clamp_and_contract_modes():
    lower, upper = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([4.0, 2.0, 2.0])
    points = torch.tensor([[0.0, 0.0, 0.0], [4.0, 2.0, 2.0], [2.0, 1.0, 1.0], [40.0, 1.0, 1.0]])
    coords, inside = to_unit_cube(points, lower, upper, "clamp")
    torch.testing.assert_close(coords[:3], torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]]))
    assert inside.tolist() == [True, True, True, False]
    coords, _ = to_unit_cube(points, lower, upper, "contract")
    torch.testing.assert_close(coords[:3], torch.tensor([[0.25] * 3, [0.75] * 3, [0.5] * 3]))
    # (40, 1, 1) -> box coords (19, 0, 0) -> contracted (2 - 1/19, 0, 0)
    torch.testing.assert_close(coords[3], torch.tensor([(4 - 1 / 19) / 4, 0.5, 0.5]))
    # continuous across the box surface
    x = torch.tensor([[1.0, 0.3, -0.2], [1.0 + 1e-4, 0.3, -0.2]])
    assert (contract_linf(x)[0] - contract_linf(x)[1]).abs().max() < 2e-4
    with pytest.raises(ValueError, match="mode"):
        ContractionConfig(mode="sphere")


def test_sampler_config_rejects_nonsense():
    with pytest.raises(ValueError, match="num_surface_samples"):
        SamplerConfig(num_surface_samples=0)
    with pytest.raises(ValueError, match="min_band"):
        SamplerConfig(min_band=0.0)


def test_ray_bundle_checks_shapes_and_slices():
    with pytest.raises(ValueError, match="near"):
        RayBundle(torch.zeros(4, 3), torch.zeros(4, 3), torch.ones(4), torch.zeros(3), torch.ones(4))
    rays = _depth_rays(torch.arange(5.0), torch.ones(5))
    part = rays.slice(1, 3)
    assert len(part) == 2 and part.depth.tolist() == [1.0, 2.0]
