"""Data manager: split, batch shapes, rays against the images, per-ray scale and language targets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from lerf3d.capture import load_rgb
from lerf3d.features.interpolate import tile_fraction_from_level
from lerf3d.train import DataManager, DataManagerConfig, split_frames
from lerf3d.train.datamanager import describe_split, frame_pixels
from lerf3d.train.targets import StackedFeatures, sample_targets, scale_per_depth

RAYS = 512


@pytest.fixture(scope="module")
def data(tiny_scene) -> DataManager:
    config = DataManagerConfig(rays_per_batch=RAYS, eval_every=4)
    return DataManager(config, tiny_scene.capture, tiny_scene.bounds, 0.1, tiny_scene.features, seed=0)


def test_every_nth_frame_is_held_out():
    assert split_frames(12, 4) == ([1, 2, 3, 5, 6, 7, 9, 10, 11], [0, 4, 8])
    assert split_frames(3, 0) == ([0, 1, 2], [])
    assert split_frames(4, 2) == ([1, 3], [0, 2])  # from 4 frames at least 2 are left to train on
    with pytest.raises(ValueError, match=r"1 frame: eval_every=2 .* --set data.eval_every=0"):
        split_frames(1, 2)
    assert split_frames(1, 0) == ([0], [])


@pytest.mark.parametrize("frames", [2, 3])
def test_small_captures_hold_nothing_out_and_say_so(frames):
    """Holding one of 2 views out used to train on a single view."""
    assert split_frames(frames, 4) == (list(range(frames)), [])
    assert describe_split(frames, 4) == (
        f"training frames ({frames}; none held out: captures of fewer than 4 frames hold none out)"
    )
    assert describe_split(frames, 0) == f"training frames ({frames}; none held out: eval_every=0)"
    assert describe_split(12, 4) == "held-out (3 frames)"


def test_config_rejects_an_eval_every_of_one():
    with pytest.raises(ValueError, match="eval_every must be 0"):
        DataManagerConfig(eval_every=1)


def test_batch_shapes_and_types(data, tiny_scene):
    batch = data.next_train()
    clip_dim = tiny_scene.features.pyramid(data.train_frames[0].name).embedding_dim
    dino_dim = tiny_scene.features.dino(data.train_frames[0].name).feature_dim
    assert len(batch.rays) == RAYS and batch.rgb.shape == (RAYS, 3) and batch.pixels.shape == (RAYS, 2)
    assert batch.clip_target.shape == (RAYS, clip_dim) and batch.dino_target.shape == (RAYS, dino_dim)
    assert batch.levels.shape == batch.clip_scale.shape == batch.rays.clip_scale_per_depth.shape == (RAYS,)
    assert batch.rays.camera_indices.dtype == torch.int64 and int(batch.rays.camera_indices.max()) < 9
    assert torch.allclose(batch.clip_target.norm(dim=-1), torch.ones(RAYS), atol=1e-5)
    assert (batch.rgb >= 0).all() and (batch.rgb <= 1).all()
    assert (batch.rays.near < batch.rays.far).all()
    assert data.num_rays == 9 * 96 * 72  # every pixel of the 9 training frames


def test_rays_hit_the_pixel_they_came_from(data):
    """o + d * depth / z_scale, projected back into the frame, lands on the batch's pixel centre,
    and the target colour is that pixel's colour."""
    batch = data.next_train()
    rays = batch.rays
    images = rays.camera_indices
    for image in torch.unique(images)[:3].tolist():
        frame = data.train_frames[image]
        rows = torch.nonzero((images == image) & (rays.depth > 0)).squeeze(1)
        points = rays.origins[rows] + rays.directions[rows] * (rays.depth[rows] / rays.z_scale[rows])[:, None]
        world_to_camera = torch.as_tensor(np.linalg.inv(frame.camera_to_world), dtype=torch.float32)
        cam = points @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        k = frame.intrinsics
        u = cam[:, 0] / cam[:, 2] * k.fx + k.cx
        v = cam[:, 1] / cam[:, 2] * k.fy + k.cy
        torch.testing.assert_close(torch.stack([u, v], -1), batch.pixels[rows], atol=1e-3, rtol=0)
        torch.testing.assert_close(cam[:, 2], rays.depth[rows], atol=1e-4, rtol=1e-5)
        rgb = torch.from_numpy(load_rgb(frame)).float() / 255
        px = batch.pixels[rows].long()
        torch.testing.assert_close(batch.rgb[rows], rgb[px[:, 1], px[:, 0]])


def test_scale_formula_on_a_hand_case():
    # levels 0, 1.5, 2 of tile fractions (0.2, 0.35, 0.5): 0.2, 0.425, 0.5 of a 72-pixel-high image;
    # seen through f_y = 60 px at 3 m, a tile of 0.425 x 72 = 30.6 px spans 30.6 * 3 / 60 = 1.53 m.
    per_depth = scale_per_depth(torch.tensor([0.0, 1.5, 2.0]), (0.2, 0.35, 0.5), 72, torch.tensor([60.0, 60.0, 120.0]))
    torch.testing.assert_close(per_depth * 3.0, torch.tensor([0.72, 1.53, 0.9]))


def test_batch_scale_is_tile_fraction_times_height_times_depth_over_fy(data):
    batch = data.next_train()
    pyramid = data.pyramids[0]
    fraction = tile_fraction_from_level(batch.levels, pyramid.tile_fractions)
    fy = torch.tensor([f.intrinsics.fy for f in data.train_frames])[batch.rays.camera_indices]
    expected = fraction * pyramid.image_height * batch.rays.depth / fy
    torch.testing.assert_close(batch.clip_scale, expected)
    assert 0 <= float(batch.levels.min()) and float(batch.levels.max()) <= pyramid.num_levels - 1
    # the scale spans the pyramid: small crops of near things, large crops of far things
    assert float(batch.clip_scale.max()) > 3 * float(batch.clip_scale[batch.clip_scale > 0].min())


def test_stacked_targets_equal_the_per_image_reference(data):
    batch = data.next_train()
    images = batch.rays.camera_indices
    reference = sample_targets(images, batch.pixels, batch.levels, data.pyramids, data.dino_maps)
    torch.testing.assert_close(batch.clip_target, reference[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batch.dino_target, reference[1], atol=1e-5, rtol=1e-5)
    # pixels on the image border and out of the centres' range clamp like sample_pyramid does
    corners = torch.tensor([[0.0, 0.0], [95.9, 71.9], [0.5, 71.5], [-3.0, 80.0]])
    images = torch.tensor([0, 1, 8, 4])
    levels = torch.tensor([0.0, 2.0, 0.7, 1.2])
    stacked = StackedFeatures.build(data.pyramids, data.dino_maps).sample(images, corners, levels)
    reference = sample_targets(images, corners, levels, data.pyramids, data.dino_maps)
    torch.testing.assert_close(stacked[0], reference[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(stacked[1], reference[1], atol=1e-5, rtol=1e-5)


def test_reference_backend_and_generator_determinism(tiny_scene):
    def batch(targets: str, seed: int):
        config = DataManagerConfig(rays_per_batch=64, eval_every=4, targets=targets)
        return DataManager(config, tiny_scene.capture, tiny_scene.bounds, 0.1, tiny_scene.features, seed=seed).next_train()

    a, b, c = batch("reference", 3), batch("stacked", 3), batch("stacked", 4)
    torch.testing.assert_close(a.pixels, b.pixels)
    torch.testing.assert_close(a.clip_target, b.clip_target, atol=1e-5, rtol=1e-5)
    assert not torch.equal(b.pixels, c.pixels)


def test_eval_view_covers_the_frame(data):
    frame = data.eval_frames[0]
    view = data.eval_view(frame)
    rgb, depth = frame_pixels(frame)
    assert len(view.rays) == 96 * 72 and view.rays.depth is None and view.rays.camera_indices is None
    assert view.rgb.shape == (72, 96, 3) and np.array_equal(view.depth.numpy(), depth)
    guided = data.eval_view(frame, guide_with_depth=True)
    torch.testing.assert_close(guided.rays.depth, torch.from_numpy(depth).reshape(-1))


def test_features_without_dino(tiny_scene):
    features = replace(tiny_scene.features, dense_encoder=None)
    data = DataManager(DataManagerConfig(rays_per_batch=32), tiny_scene.capture, tiny_scene.bounds, 0.1, features)
    batch = data.next_train()
    assert batch.dino_target is None and batch.clip_target is not None and data.dino_dim is None
