"""Back-projection of crop pyramids onto fused points: visibility, averaging, scales, the protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lerf3d.features.extractor import CaptureFeatures, FrameFeatures
from lerf3d.features.pyramid import FeaturePyramid, PyramidLevel
from lerf3d.ground_truth import load_ground_truth
from lerf3d.scene_llm.tokens.features3d import (
    BackprojectionConfig,
    FeaturePoints,
    FieldClipEmbedder,
    PointEmbedder,
    PyramidBackprojector,
    backproject_embeddings,
    backproject_pyramid,
    lift_features,
)
from lerf3d.types import Capture, Frame, Intrinsics, PointSet

SIZE = 8  # pixels of the hand-made frames
FOCAL = 8.0


def _level(fraction: float, grid: torch.Tensor) -> PyramidLevel:
    """A level whose crop centres sit on every pixel centre of a (H, W, D) grid."""
    height, width = grid.shape[:2]
    return PyramidLevel(fraction, max(1, round(fraction * height)), torch.arange(width) + 0.5,
                        torch.arange(height) + 0.5, grid)


def _features(pyramids: dict[str, FeaturePyramid]) -> CaptureFeatures:
    frames = {name: FrameFeatures(p, None, name) for name, p in pyramids.items()}
    return CaptureFeatures(frames=frames, image_text_encoder="oracle", dense_encoder=None)


def _constant_pyramid(*vectors: torch.Tensor) -> FeaturePyramid:
    """One level per vector (tile fractions 0.1, 0.5), constant over the image."""
    fractions = (0.1, 0.5)[: len(vectors)]
    levels = tuple(_level(f, v.expand(SIZE, SIZE, -1).clone()) for f, v in zip(fractions, vectors))
    return FeaturePyramid(levels, SIZE, SIZE)


def _hand_capture(tmp_path, depths: list[np.ndarray]) -> Capture:
    """Frames at the origin looking down +z (identity pose) with the given depth maps."""
    intrinsics = Intrinsics(FOCAL, FOCAL, SIZE / 2, SIZE / 2, SIZE, SIZE)
    frames = []
    for i, depth in enumerate(depths):
        path = tmp_path / f"depth{i}.npy"
        np.save(path, depth.astype(np.float32))
        frames.append(Frame(f"f{i}", tmp_path / f"rgb{i}.png", path, intrinsics, np.eye(4), depth_scale=1.0))
    return Capture(tmp_path, tuple(frames), "nerfstudio")


E0, E1 = torch.eye(4)[0], torch.eye(4)[1]


def test_visibility_occlusion_and_averaging(tmp_path):
    near = np.full((SIZE, SIZE), 2.0)
    split = np.full((SIZE, SIZE), 3.0)
    split[:, : SIZE // 2] = 2.0  # frame 1 sees the 2 m surface on its left half, 3 m on the right
    capture = _hand_capture(tmp_path, [near, split])
    features = _features({"f0": _constant_pyramid(E0), "f1": _constant_pyramid(E1)})
    xyz = torch.tensor([
        [-0.5, 0.0, 2.0],  # left, on both frames' 2 m surface: seen twice
        [0.5, 0.0, 2.0],  # right, 2 m: frame 0 only (frame 1 measured 3 m there)
        [0.5, 0.0, 3.0],  # right, 3 m: frame 1 only (behind frame 0's surface: occluded)
        [0.0, 0.0, 5.0],  # behind everything: unseen
        [50.0, 0.0, 2.0],  # outside the image
        [0.0, 0.0, -2.0],  # behind the camera
    ])
    out, counts = backproject_embeddings(capture, features, xyz, level=0.0)
    assert counts.tolist() == [2, 1, 1, 0, 0, 0]
    torch.testing.assert_close(out[0], F.normalize(E0 + E1, dim=0))
    torch.testing.assert_close(out[1], E0)
    torch.testing.assert_close(out[2], E1)
    assert out[3:].abs().sum() == 0


def test_depth_tolerance(tmp_path):
    capture = _hand_capture(tmp_path, [np.full((SIZE, SIZE), 2.0)])
    features = _features({"f0": _constant_pyramid(E0)})
    xyz = torch.tensor([[0.0, 0.0, 2.06], [0.0, 0.0, 2.12]])  # 2 m * 2 % + 5 cm = 9 cm tolerance
    _, counts = backproject_embeddings(capture, features, xyz, level=0.0)
    assert counts.tolist() == [1, 0]
    strict = BackprojectionConfig(depth_tolerance_m=0.01, depth_tolerance_rel=0.0)
    _, counts = backproject_embeddings(capture, features, xyz, level=0.0, config=strict)
    assert counts.tolist() == [0, 0]


def test_world_scale_picks_the_level_by_depth(tmp_path):
    capture = _hand_capture(tmp_path, [np.full((SIZE, SIZE), 2.0)])
    features = _features({"f0": _constant_pyramid(E0, E1)})
    xyz = torch.tensor([[0.0, 0.0, 2.0]])
    # tile fraction = scale * f / (H * z): 0.2 m -> 0.1 (level 0), 1.0 m -> 0.5 (level 1)
    small, _ = backproject_embeddings(capture, features, xyz, world_scale=0.2)
    large, _ = backproject_embeddings(capture, features, xyz, world_scale=1.0)
    torch.testing.assert_close(small[0], E0)
    torch.testing.assert_close(large[0], E1)
    with pytest.raises(ValueError, match="exactly one"):
        backproject_embeddings(capture, features, xyz)
    with pytest.raises(ValueError, match="exactly one"):
        backproject_embeddings(capture, features, xyz, level=0.0, world_scale=1.0)


def test_protocol_and_lift_features(tmp_path):
    capture = _hand_capture(tmp_path, [np.full((SIZE, SIZE), 2.0)])
    embedder = PyramidBackprojector(capture, _features({"f0": _constant_pyramid(E0, E1)}))
    assert isinstance(embedder, PointEmbedder)
    points = PointSet(np.array([[0, 0, 2.0], [0, 0, 9.0]], np.float32), np.full((2, 3), 0.5, np.float32))
    lifted = lift_features(points, embedder, world_scale=1.0, chunk_size=1)
    assert isinstance(lifted, FeaturePoints) and lifted.source == "backproject:oracle@1m"
    torch.testing.assert_close(lifted.features[0], E1)
    assert lifted.observed.tolist() == [True, False] and lifted.feature_dim == 4
    with pytest.raises(TypeError, match="embed_points"):
        lift_features(points, object())


def test_field_embedder_keeps_the_clip_part():
    class FakeField:
        def embed_points(self, xyz, scale):
            return xyz[:, :2] * scale, torch.zeros(len(xyz), 7)  # (clip, dino) like LerfField

    embedder = FieldClipEmbedder(FakeField())
    assert isinstance(embedder, PointEmbedder)
    out = embedder.embed_points(torch.tensor([[3.0, 4.0, 1.0]]), 2.0)
    torch.testing.assert_close(out, torch.tensor([[0.6, 0.8]]))


def test_oracle_features_land_on_the_right_objects(tiny_room, tiny_capture, tiny_points):
    """Pyramids that are one-hot instance masks, back-projected onto the fused room: the points
    inside each furniture box must mostly carry that instance's id."""
    truth = load_ground_truth(tiny_room)
    num_ids = max(o.instance_id for o in truth.objects) + 1
    pyramids = {}
    for frame in tiny_capture.frames:
        mask = torch.from_numpy(truth.load_mask(frame.name)).long()
        onehot = F.one_hot(mask, num_ids).float()  # (H, W, num_ids)
        pyramids[frame.name] = FeaturePyramid((_level(0.05, onehot),), *mask.shape)
    lifted = backproject_pyramid(tiny_capture, _features(pyramids), tiny_points, level=0.0)
    assert lifted.observed.float().mean() > 0.9, "most fused points are seen by some frame"
    labels = lifted.features.argmax(dim=1)
    checked = 0
    for obj in truth.furniture:
        inside = ((lifted.xyz >= torch.tensor(obj.box_min) + 0.02)
                  & (lifted.xyz <= torch.tensor(obj.box_max) - 0.02)).all(1) & lifted.observed
        if inside.sum() < 20:
            continue
        agreement = (labels[inside] == obj.instance_id).float().mean()
        assert agreement > 0.8, f"{obj.label} ({obj.instance_id}): {agreement:.2f} of its points"
        checked += 1
    assert checked >= 2, "the tiny room should have at least two well-sampled furniture pieces"
