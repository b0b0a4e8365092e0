"""Radiance and language heads, LerfField rendering, and a tiny overfit of a coloured plane."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from lerf3d.field import (
    HashGridConfig,
    LanguageField,
    LanguageFieldConfig,
    LerfField,
    LerfFieldConfig,
    RadianceField,
    RadianceFieldConfig,
    RayBundle,
    SamplerConfig,
    image_rays,
    render_in_chunks,
)
from lerf3d.field.harmonics import spherical_harmonics
from lerf3d.field.losses import depth_l1_loss, free_space_loss, psnr, rgb_loss, surface_opacity_loss
from lerf3d.field.radiance import trunc_exp
from lerf3d.types import Intrinsics, SceneBounds

TINY_GRID = HashGridConfig(num_levels=8, log2_table_size=14, base_resolution=8, max_resolution=256)
TINY_RADIANCE = RadianceFieldConfig(
    grid=TINY_GRID, density_hidden_dim=32, color_hidden_dim=32, geo_feature_dim=7
)
TINY_LANGUAGE = LanguageFieldConfig(
    grids=(
        HashGridConfig(
            num_levels=4, features_per_level=4, log2_table_size=12, base_resolution=8, max_resolution=64
        ),
    ),
    clip_dim=16,
    dino_dim=8,
    clip_hidden_dim=32,
    clip_hidden_layers=1,
    dino_hidden_dim=32,
    dino_hidden_layers=1,
)
TINY = LerfFieldConfig(
    radiance=TINY_RADIANCE,
    language=TINY_LANGUAGE,
    sampler=SamplerConfig(num_surface_samples=12, num_free_samples=4),
    language_top_k=6,
)
ROOM = SceneBounds(np.array([-1.0, -1.0, -0.2]), np.array([3.0, 3.0, 0.3]))
# Camera 2 m above the floor plane z = 0, looking straight down (OpenCV: z forward = world -z).
DOWN = torch.tensor([[1.0, 0, 0, 1.0], [0, -1.0, 0, 1.0], [0, 0, -1.0, 2.0], [0, 0, 0, 1]])


def _floor_rays(side: int) -> tuple[RayBundle, torch.Tensor]:
    """Rays of a side x side image of the floor with z-depth 2 m, and the floor's colour ramp."""
    k = Intrinsics(fx=0.75 * side, fy=0.75 * side, cx=side / 2, cy=side / 2, width=side, height=side)
    rays = image_rays(k, DOWN, near=1.0, far=3.0)
    hit = rays.origins + rays.directions * (2.0 / rays.z_scale)[:, None]
    colour = torch.stack([hit[:, 0] / 2, hit[:, 1] / 2, 1 - hit[:, 0] / 2], dim=-1).clamp(0, 1)
    return replace(rays, depth=torch.full((len(rays),), 2.0)), colour


def test_spherical_harmonics_values():
    up = spherical_harmonics(torch.tensor([[0.0, 0.0, 1.0]]))
    assert up.shape == (1, 16)
    assert math.isclose(up[0, 0].item(), 0.5 / math.sqrt(math.pi), rel_tol=1e-6)
    assert math.isclose(up[0, 2].item(), math.sqrt(3 / (4 * math.pi)), rel_tol=1e-6)
    assert math.isclose(up[0, 6].item(), 0.31539156525252005 * 2, rel_tol=1e-6)  # (3z^2 - 1) = 2
    # orthonormal basis: mean of Y_i Y_j over the sphere = delta_ij / (4 pi)
    dirs = torch.nn.functional.normalize(
        torch.randn(200000, 3, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    y = spherical_harmonics(dirs)
    gram = y.T @ y / len(dirs) * 4 * math.pi
    torch.testing.assert_close(gram, torch.eye(16), atol=0.03, rtol=0)


def test_trunc_exp_clamps_its_gradient():
    x = torch.tensor([1.0, 20.0], requires_grad=True)
    trunc_exp(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([math.e, math.exp(15.0)]))


def test_radiance_field_ranges_and_per_ray_colour_shortcut():
    torch.manual_seed(0)
    field = RadianceField(TINY_RADIANCE, num_cameras=3)
    sigma, geo = field.density(torch.rand(40, 3))
    assert sigma.shape == (40,) and (sigma > 0).all() and geo.shape == (40, 7)
    geo = torch.randn(5, 8, 7)
    dirs = torch.nn.functional.normalize(torch.randn(5, 3), dim=-1)
    cams = torch.tensor([0, 1, 2, 1, 0])
    per_ray = field.color_along_rays(geo, dirs, cams)
    per_point = field.color(geo.view(40, 7), dirs.repeat_interleave(8, 0), cams.repeat_interleave(8, 0))
    torch.testing.assert_close(per_ray.view(40, 3), per_point, atol=1e-6, rtol=1e-5)
    assert ((per_ray > 0) & (per_ray < 1)).all()
    keep = torch.rand(5, 8) > 0.5
    partial = field.color_along_rays(geo, dirs, cams, keep)
    torch.testing.assert_close(partial[keep], per_ray[keep], atol=1e-6, rtol=1e-5)
    assert (partial[~keep] == 0).all()
    # no camera index: the mean appearance code
    mean_code = field.color_along_rays(geo, dirs, None)
    assert mean_code.shape == (5, 8, 3)


def test_language_field_outputs():
    torch.manual_seed(0)
    field = LanguageField(TINY_LANGUAGE)
    features = field.encode(torch.rand(10, 3))
    assert features.shape == (10, 16) and field.feature_dim == 16
    clip = field.clip(features, torch.full((10,), 0.5))
    assert clip.shape == (10, 16)
    torch.testing.assert_close(clip.norm(dim=-1), torch.ones(10))
    assert field.dino(features).shape == (10, 8)
    # the scale is an input: another scale, another embedding
    assert (field.clip(features, torch.full((10,), 1.5)) - clip).abs().max() > 1e-4


def test_lerf_defaults_follow_the_paper():
    config = LanguageFieldConfig()
    assert [(g.num_levels, g.features_per_level, g.log2_table_size) for g in config.grids] == [
        (12, 8, 19)
    ] * 2
    assert [(g.base_resolution, g.max_resolution) for g in config.grids] == [(16, 128), (128, 512)]
    assert (config.clip_dim, config.dino_dim, LerfFieldConfig().language_top_k) == (512, 384, 24)


def test_render_outputs_shapes_and_language_switches():
    torch.manual_seed(0)
    field = LerfField(TINY, ROOM, num_cameras=2)
    rays, _ = _floor_rays(8)
    rays = replace(rays, clip_scale_per_depth=torch.full((64,), 0.2))
    out = field.render_rays(rays, return_samples=True)
    assert out.rgb.shape == (64, 3) and out.depth.shape == (64,) and out.accumulation.shape == (64,)
    assert out.weights.shape == (64, 16) and out.samples.edges.shape == (64, 17)
    torch.testing.assert_close(out.depth, out.distance * rays.z_scale)
    assert out.clip.shape == (64, 16) and out.dino.shape == (64, 8)
    torch.testing.assert_close(out.clip.norm(dim=-1), torch.ones(64))
    no_scale = field.render_rays(replace(rays, clip_scale_per_depth=None))
    assert no_scale.clip is None and no_scale.dino is not None and no_scale.weights is None
    fixed = field.render_rays(replace(rays, clip_scale_per_depth=None), clip_scale=0.4)
    assert fixed.clip.shape == (64, 16)
    assert field.render_rays(rays, with_language=False).clip is None


def test_language_loss_does_not_touch_geometry():
    torch.manual_seed(0)
    field = LerfField(TINY, ROOM)
    rays, _ = _floor_rays(8)
    out = field.render_rays(rays, clip_scale=0.3)
    (out.clip.sum() + out.dino.sum()).backward()
    assert all(p.grad is None for p in field.radiance.parameters())
    assert field.language.grids[0].table.grad.abs().sum() > 0


def test_param_groups_partition_the_parameters():
    field = LerfField(TINY, ROOM, num_cameras=4)
    groups = field.param_groups()
    assert set(groups) == {"radiance", "language"}
    ids = [id(p) for g in groups.values() for p in g]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in field.parameters()}
    assert "language" not in LerfField(replace(TINY, language=None), ROOM).param_groups()


def test_chunked_rendering_equals_one_pass():
    torch.manual_seed(0)
    field = LerfField(TINY, ROOM).eval()
    rays, _ = _floor_rays(10)
    with torch.no_grad():
        whole = field.render_rays(rays, clip_scale=0.3, return_samples=True)
        parts = render_in_chunks(field, rays, 33, clip_scale=0.3, return_samples=True)
    for name in ("rgb", "depth", "accumulation", "clip", "dino", "weights"):
        torch.testing.assert_close(getattr(parts, name), getattr(whole, name))
    torch.testing.assert_close(parts.samples.edges, whole.samples.edges)


def test_points_outside_the_box_are_empty_in_clamp_mode():
    field = LerfField(TINY, ROOM)
    sigma, _ = field.density_at(torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 5.0]]))
    assert sigma[0] > 0 and sigma[1] == 0


def test_bad_field_config_is_rejected():
    with pytest.raises(ValueError, match="background"):
        LerfFieldConfig(background="grey")
    with pytest.raises(ValueError, match="language_top_k"):
        LerfFieldConfig(language_top_k=0)


def test_tiny_overfit_of_a_coloured_floor():
    """100 Adam steps on 256 rays of a colour-ramp floor.

    PSNR starts near 9 dB and must pass 25 dB (29.6 measured); depth error < 1 cm, opacity > 0.9.
    """
    torch.manual_seed(0)
    field = LerfField(replace(TINY, language=None), ROOM).train()
    rays, colour = _floor_rays(16)
    optimiser = torch.optim.Adam(field.parameters(), lr=1e-2, eps=1e-15)
    first = None
    for _ in range(100):
        out = field.render_rays(rays, return_samples=True)
        s = out.samples
        loss = (
            rgb_loss(out.rgb, colour)
            + 0.1 * depth_l1_loss(out.depth, rays.depth)
            + 0.1 * free_space_loss(out.weights, s.t_ends, s.surface_t, s.band, s.has_depth)
            + 0.1 * surface_opacity_loss(out.weights, s.t_mids, s.surface_t, s.band, s.has_depth)
        )
        first = psnr(out.rgb, colour).item() if first is None else first
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        out = field.eval().render_rays(rays)
    assert first < 12.0
    assert psnr(out.rgb, colour).item() > 25.0
    assert (out.depth - 2.0).abs().mean().item() < 0.01
    assert out.accumulation.mean().item() > 0.9


def test_embed_points_matches_the_heads():
    torch.manual_seed(0)
    field = LerfField(TINY, ROOM)
    points = torch.tensor([[1.0, 1.0, 0.0], [2.0, 0.5, 0.1]])
    clip, dino = field.embed_points(points, clip_scale=0.5)
    coords, _ = field.grid_coords(points)
    features = field.language.encode(coords)
    torch.testing.assert_close(clip, field.language.clip(features, torch.full((2,), 0.5)))
    torch.testing.assert_close(dino, field.language.dino(features))
    with pytest.raises(RuntimeError, match="without a language field"):
        LerfField(replace(TINY, language=None), ROOM).embed_points(points, 0.5)


def test_per_ray_clip_rendering_equals_lerf_with_one_sample():
    """Decoding the averaged hidden layer is LERF's renderer exactly when k = 1; unit length always."""
    torch.manual_seed(0)
    lerf = LerfField(replace(TINY, language_top_k=1), ROOM).eval()
    fast = LerfField(replace(TINY, language_top_k=1, clip_rendering="per_ray"), ROOM).eval()
    fast.load_state_dict(lerf.state_dict())
    rays, _ = _floor_rays(6)
    with torch.no_grad():
        expected, got = (f.render_rays(rays, clip_scale=0.3) for f in (lerf, fast))
    torch.testing.assert_close(got.clip, expected.clip)
    torch.testing.assert_close(got.dino, expected.dino)
    with torch.no_grad():
        many = (
            LerfField(replace(TINY, clip_rendering="per_ray"), ROOM).eval().render_rays(rays, clip_scale=0.3)
        )
    torch.testing.assert_close(many.clip.norm(dim=-1), torch.ones(36))
