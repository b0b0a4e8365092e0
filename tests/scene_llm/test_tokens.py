"""Point-voxel pooling, farthest-point sampling and the egocentric frame, on hand-made points."""

import numpy as np
import pytest
import torch

from lerf3d.scene_llm.tokens.frames import (
    XYZ_NORMALISATION_M,
    PoolingConfig,
    SceneTokens,
    egocentric_tokens,
    farthest_point_sampling,
    pool_points,
    projector_input_dim,
    scatter_mean,
    voxel_ids,
    voxel_pool,
)
from lerf3d.types import Intrinsics


def _pose(rotation: np.ndarray, translation) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, translation
    return pose


def test_scatter_mean_by_hand():
    values = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])
    out = scatter_mean(values, torch.tensor([0, 0, 2]), num_groups=3)
    torch.testing.assert_close(out, torch.tensor([[2.0, 20.0], [0.0, 0.0], [5.0, 50.0]]))


def test_voxel_ids_groups_points_by_cell():
    xyz = torch.tensor([[0.01, 0.0, 0.0], [0.09, 0.05, 0.02], [0.15, 0.0, 0.0], [0.01, 0.0, 0.11]])
    ids, count = voxel_ids(xyz, 0.1)
    assert count == 3
    assert ids[0] == ids[1] and len({ids[0].item(), ids[2].item(), ids[3].item()}) == 3


def test_voxel_pool_means_by_hand():
    xyz = torch.tensor([[0.0, 0.0, 0.0], [0.4, 0.2, 0.0], [1.2, 0.0, 0.0], [1.4, 0.0, 0.0]])
    feats = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [4.0, 0.0]])
    rgb = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 0, 1.0]])
    tokens = voxel_pool(xyz, feats, rgb, voxel_size=1.0, frame="scene")
    # cells along x: points 0,1 -> cell 0; points 2,3 -> cell 1 (grid anchored at min corner 0)
    torch.testing.assert_close(tokens.xyz, torch.tensor([[0.2, 0.1, 0.0], [1.3, 0.0, 0.0]]))
    torch.testing.assert_close(tokens.features, torch.tensor([[0.5, 0.5], [3.0, 1.0]]))
    torch.testing.assert_close(tokens.rgb, torch.tensor([[0.5, 0.5, 0], [0, 0, 1.0]]))
    assert tokens.frame == "scene" and tokens.num_tokens == 2


def test_fps_picks_the_extreme_points_first():
    # four corners of a 2 x 2 square plus interior points; the corner (1, 1) is pushed out a little
    # so the start (farthest from the centroid) is unique
    corners = [[1.1, 1.1, 0], [-1, -1, 0], [1, -1, 0], [-1, 1, 0]]
    interior = [[0, 0, 0], [0.5, 0.2, 0], [-0.3, 0.4, 0], [0.2, -0.6, 0], [0.1, 0.1, 0]]
    xyz = torch.tensor(interior[:2] + corners[:2] + interior[2:] + corners[2:], dtype=torch.float32)
    chosen = farthest_point_sampling(xyz, 4)
    assert chosen[0].item() == 2  # (1.1, 1.1): farthest from the centroid
    assert chosen[1].item() == 3  # (-1, -1): farthest from it
    assert set(chosen.tolist()) == {2, 3, 7, 8}
    assert farthest_point_sampling(xyz, 100).shape == (9,)
    assert sorted(farthest_point_sampling(xyz, 100).tolist()) == list(range(9))


def test_pool_points_respects_the_cap_both_ways():
    g = torch.Generator().manual_seed(0)
    xyz = torch.rand(2000, 3, generator=g) * torch.tensor([4.0, 3.0, 2.5])
    feats, rgb = torch.randn(2000, 8, generator=g), torch.rand(2000, 3, generator=g)
    uncapped = pool_points(xyz, feats, rgb, PoolingConfig(voxel_size=0.5, max_tokens=10_000))
    assert uncapped.num_tokens == 8 * 6 * 5
    for mode in ("fps", "grid"):
        tokens = pool_points(xyz, feats, rgb, PoolingConfig(voxel_size=0.5, max_tokens=50, downsample=mode))
        assert 50 // 4 <= tokens.num_tokens <= 50  # capped, but not collapsed far below the cap
        assert tokens.features.shape == (tokens.num_tokens, 8) and tokens.rgb.shape == (tokens.num_tokens, 3)
    fps = pool_points(xyz, feats, rgb, PoolingConfig(voxel_size=0.5, max_tokens=50))
    assert fps.num_tokens == 50
    # fps keeps a subset of the voxel means
    dist = (fps.xyz[:, None] - uncapped.xyz[None]).abs().amax(-1).amin(1)  # (50,)
    assert dist.max().item() < 1e-6
    # a single token: grid coarsening ends with one voxel holding the global mean
    one = pool_points(xyz, feats, rgb, PoolingConfig(voxel_size=0.5, max_tokens=1, downsample="grid"))
    torch.testing.assert_close(one.xyz[0], xyz.mean(0))


def test_pool_points_handles_empty_and_colourless_input():
    empty = pool_points(torch.zeros(0, 3), torch.zeros(0, 4), None, PoolingConfig())
    assert empty.num_tokens == 0 and empty.rgb is None
    tokens = pool_points(torch.zeros(3, 3), torch.ones(3, 4), None, PoolingConfig())
    assert tokens.num_tokens == 1
    with pytest.raises(ValueError, match="no rgb"):
        tokens.projector_input()
    assert tokens.projector_input(include_rgb=False).shape == (1, projector_input_dim(4, False))


def test_pooling_config_validates():
    with pytest.raises(ValueError, match="voxel_size"):
        PoolingConfig(voxel_size=0)
    with pytest.raises(ValueError, match="max_tokens"):
        PoolingConfig(max_tokens=0)
    with pytest.raises(ValueError, match="downsample"):
        PoolingConfig(downsample="random")



def test_egocentric_tokens_cull_and_live_in_camera_frame():
    pose = _pose(np.eye(3), [0.0, 0.0, -2.0])  # camera 2 m behind the origin looking along world +z
    intr = Intrinsics(fx=50.0, fy=50.0, cx=32.0, cy=32.0, width=64, height=64)
    xyz = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, -5.0], [10.0, 0.0, 0.0]])
    feats = torch.eye(3)
    tokens = egocentric_tokens(xyz, feats, None, pose, PoolingConfig(voxel_size=0.1), intrinsics=intr)
    assert tokens.frame == "ego" and tokens.num_tokens == 1
    torch.testing.assert_close(tokens.xyz, torch.tensor([[0.0, 0.0, 2.0]]))
    torch.testing.assert_close(tokens.features, torch.tensor([[1.0, 0.0, 0.0]]))
    everything = egocentric_tokens(xyz, feats, None, pose, PoolingConfig(voxel_size=0.1))
    assert everything.num_tokens == 3


def test_projector_input_layout():
    xyz = torch.tensor([[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]])
    feats = torch.tensor([[1.0], [2.0]])
    rgb = torch.tensor([[0.0, 0.5, 1.0], [1.0, 1.0, 1.0]])
    scene = SceneTokens(xyz, feats, rgb, "scene").projector_input()
    assert scene.shape == (2, projector_input_dim(1))
    torch.testing.assert_close(scene[0], torch.tensor([1.0, -1, -2, -3, -1, 0, 1]) / torch.tensor(
        [1.0, XYZ_NORMALISATION_M, XYZ_NORMALISATION_M, XYZ_NORMALISATION_M, 1, 1, 1]))
    ego = SceneTokens(xyz, feats, rgb, "ego").projector_input(xyz_scale=2.0, include_rgb=False)
    torch.testing.assert_close(ego[1], torch.tensor([2.0, 1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="frame"):
        SceneTokens(xyz, feats, rgb, "world")
    with pytest.raises(ValueError, match="features"):
        SceneTokens(xyz, feats[:1], rgb, "ego")
