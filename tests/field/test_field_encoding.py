"""Hash-grid encoding: geometry, a slow reference, a vertex hand-check, gradients, determinism, tcnn."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from lerf3d.field.encoding import (
    HASH_PRIMES,
    HashGrid,
    HashGridConfig,
    _InterpolateCorners,
    corner_indices_and_fractions,
    grid_levels,
    tcnn_available,
)

SMALL = HashGridConfig(
    num_levels=6, features_per_level=2, log2_table_size=12, base_resolution=4, max_resolution=64
)


def _reference(grid: HashGrid, points: torch.Tensor) -> torch.Tensor:
    """tiny-cuda-nn's HashGrid written out per point, corner and level, on tcnn's parameter layout."""
    params = grid.tcnn_parameters().view(-1, grid.config.features_per_level)
    rows = []
    for p in points:
        feats = []
        for lv in grid.levels:
            pos = p * lv.scale + 0.5
            cell, frac = pos.floor().long(), pos - pos.floor()
            acc = torch.zeros(grid.config.features_per_level, dtype=params.dtype)
            for k in range(8):
                c = [int(cell[a]) + ((k >> a) & 1) for a in range(3)]
                w = 1.0
                for a in range(3):
                    w = w * (frac[a] if (k >> a) & 1 else 1 - frac[a])
                if lv.dense:
                    idx = (c[0] + c[1] * lv.resolution + c[2] * lv.resolution**2) % lv.size
                else:
                    h = 0
                    for a in range(3):
                        h ^= (c[a] * HASH_PRIMES[a]) & 0xFFFFFFFF  # uint32 arithmetic, as tcnn
                    idx = h % lv.size
                acc = acc + w * params[lv.tcnn_offset + idx]
            feats.append(acc)
        rows.append(torch.cat(feats))
    return torch.stack(rows)


def test_level_geometry_follows_tcnn():
    levels = grid_levels(SMALL)
    assert [lv.resolution for lv in levels] == [4, 7, 13, 22, 37, 64]
    assert [lv.dense for lv in levels] == [True, True, True, False, False, False]
    assert [lv.size for lv in levels] == [64, 344, 2200, 4096, 4096, 4096]  # 7^3=343 -> 344 (x8)
    # hashed levels first in our table, at multiples of T; tcnn keeps level order
    assert [lv.offset for lv in levels] == [12288, 12352, 12696, 0, 4096, 8192]
    assert [lv.tcnn_offset for lv in levels] == [0, 64, 408, 2608, 6704, 10800]


def test_output_shape_and_initial_range():
    torch.manual_seed(0)
    grid = HashGrid(SMALL)
    out = grid(torch.rand(100, 3))
    assert out.shape == (100, 12) and out.dtype == torch.float32
    assert grid.table.shape == (14896, 2)
    assert grid.table.abs().max() <= 1e-4  # U(-1e-4, 1e-4), Instant-NGP Sec. 4


@pytest.mark.parametrize("features", [1, 2, 3, 4, 8])  # 4/8/16-byte rows are gathered packed
def test_matches_per_point_reference_including_cube_faces(features):
    torch.manual_seed(0)
    grid = HashGrid(replace(SMALL, features_per_level=features))
    with torch.no_grad():
        grid.table.normal_()
    points = torch.rand(25, 3)
    points[0], points[1], points[2] = 1.0, 0.0, torch.tensor([1.0, 0.0, 0.5])
    torch.testing.assert_close(grid(points), _reference(grid, points), atol=2e-5, rtol=0)


def test_point_on_a_vertex_returns_that_vertex_feature():
    """Level 0 has scale 3 (4 vertices per axis, dense): x * 3 + 0.5 = (1, 2, 3) at x = (1, 3, 5) / 6."""
    grid = HashGrid(SMALL)
    level = grid.levels[0]
    assert level.scale == 3.0 and level.dense
    row = level.offset + 1 + 2 * 4 + 3 * 16  # dense layout x + R y + R^2 z, by hand
    with torch.no_grad():
        grid.table.zero_()
        grid.table[row] = torch.tensor([0.25, -0.75])
    point = torch.tensor([[1.0, 3.0, 5.0]]) / 6.0
    out = grid(point).view(len(grid.levels), 2)
    torch.testing.assert_close(out[0], torch.tensor([0.25, -0.75]), atol=1e-6, rtol=0)
    # Half a cell away along x the feature is shared with the zero neighbour (trilinear: half).
    out = grid(point + torch.tensor([[0.5 / 3.0, 0.0, 0.0]])).view(len(grid.levels), 2)
    torch.testing.assert_close(out[0], torch.tensor([0.125, -0.375]), atol=1e-6, rtol=0)


def test_point_on_a_hashed_vertex_returns_that_vertex_feature():
    grid = HashGrid(SMALL)
    level_id = 4
    level = grid.levels[level_id]
    vertex = torch.tensor([3, 5, 2])
    point = ((vertex.double() - 0.5) / level.scale).float()[None]  # lands on the vertex in float32
    hashed = (3 * HASH_PRIMES[0]) ^ (5 * HASH_PRIMES[1]) ^ (2 * HASH_PRIMES[2])
    row = level.offset + hashed % level.size
    with torch.no_grad():
        grid.table.zero_()
        grid.table[row] = torch.tensor([0.5, 2.0])
    out = grid(point).view(len(grid.levels), 2)
    torch.testing.assert_close(out[level_id], torch.tensor([0.5, 2.0]), atol=1e-6, rtol=0)


def test_gradients_match_finite_differences_for_table_and_points():
    torch.manual_seed(0)
    config = HashGridConfig(
        num_levels=3, features_per_level=2, log2_table_size=8, base_resolution=4, max_resolution=16
    )
    grid = HashGrid(config).double()
    points = torch.rand(6, 3, dtype=torch.float64, requires_grad=True)

    def encode(table: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        index, fracs = corner_indices_and_fractions(pts, grid.levels, config.log2_table_size)
        return _InterpolateCorners.apply(table, index, fracs)

    assert torch.autograd.gradcheck(encode, (grid.table, points), fast_mode=True)


def test_table_gradient_equals_plain_autograd_gather():
    torch.manual_seed(1)
    grid = HashGrid(SMALL)
    points = torch.rand(500, 3)
    grid(points).square().sum().backward()
    ours = grid.table.grad.clone()
    index, fracs = corner_indices_and_fractions(points, grid.levels, SMALL.log2_table_size)
    table = grid.table.detach().clone().requires_grad_()
    wx, wy, wz = (torch.stack([1 - f, f]) for f in fracs)
    weights = (wz[:, None, None] * wy[None, :, None] * wx[None, None, :]).reshape(8, -1)  # (8, P)
    feats = (table[index.long()] * weights[..., None]).sum(0)  # (P, F)
    n = len(points)
    feats.view(len(grid.levels), n, 2).square().sum().backward()
    torch.testing.assert_close(ours, table.grad, atol=1e-6, rtol=1e-5)


def test_deterministic_init_forward_and_backward():
    points = torch.rand(300, 3, generator=torch.Generator().manual_seed(3))
    grads, outs = [], []
    for _ in range(2):
        torch.manual_seed(7)
        grid = HashGrid(SMALL)
        out = grid(points)
        out.sum().backward()
        outs.append(out.detach())
        grads.append(grid.table.grad)
    assert torch.equal(outs[0], outs[1]) and torch.equal(grads[0], grads[1])


def test_inputs_outside_the_cube_are_clamped():
    torch.manual_seed(0)
    grid = HashGrid(SMALL)
    torch.testing.assert_close(grid(torch.tensor([[1.5, -0.2, 0.3]])), grid(torch.tensor([[1.0, 0.0, 0.3]])))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_levels": 0}, "num_levels"),
        ({"log2_table_size": 40}, "log2_table_size"),
        ({"base_resolution": 64, "max_resolution": 16}, "base_resolution"),
        ({"backend": "cuda"}, "backend"),
    ],
)
def test_bad_config_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HashGridConfig(**kwargs)


def test_tcnn_backend_without_tinycudann_says_why():
    if tcnn_available():
        pytest.skip("tinycudann is installed: the error path cannot be exercised")
    with pytest.raises(RuntimeError, match="tinycudann"):
        HashGrid(HashGridConfig(backend="tcnn"))


@pytest.mark.skipif(
    not tcnn_available(), reason="tinycudann is not installed (needs CUDA and tiny-cuda-nn's torch bindings)"
)
def test_tcnn_backend_matches_torch_reference():
    torch.manual_seed(0)
    config = HashGridConfig(
        num_levels=8, features_per_level=2, log2_table_size=15, base_resolution=8, max_resolution=256
    )
    reference = HashGrid(config).cuda()
    with torch.no_grad():
        reference.table.normal_(std=0.1)
    fast = HashGrid(replace(config, backend="tcnn")).cuda()
    with torch.no_grad():
        fast._tcnn.params.copy_(reference.tcnn_parameters())
    points = torch.rand(4096, 3, device="cuda")
    torch.testing.assert_close(fast(points), reference(points), atol=1e-3, rtol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_torch_backend_on_cuda_matches_cpu():
    torch.manual_seed(0)
    grid = HashGrid(SMALL)
    points = torch.rand(1000, 3)
    expected = grid(points)
    torch.testing.assert_close(grid.cuda()(points.cuda()).cpu(), expected, atol=1e-6, rtol=1e-5)
