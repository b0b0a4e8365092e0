"""Scene features on disk, the token store, and preparing a dataset from a generated room."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lerf3d.scene_llm.data.dataset import DatasetConfig, generate_dataset
from lerf3d.scene_llm.tokens import prepare as prepare_module
from lerf3d.scene_llm.tokens.features3d import FeaturePoints
from lerf3d.scene_llm.tokens.frames import PoolingConfig
from lerf3d.scene_llm.tokens.prepare import PREPARE_RECORD, PrepareConfig, prepare_dataset
from lerf3d.scene_llm.tokens.scenes import (
    FEATURES_DIR,
    SceneFeatures,
    TokenConfig,
    TokenStore,
    load_scene_features,
    save_scene_features,
)


def _scene() -> SceneFeatures:
    xyz = torch.tensor([[0.0, 0.0, 2.0], [0.05, 0.0, 2.0], [1.0, 0.0, 3.0], [5.0, 5.0, 5.0]])
    features = torch.nn.functional.normalize(torch.arange(12.0).reshape(4, 3) + 1, dim=1)
    pose = np.eye(4)
    pose[:3, 3] = [0.0, 0.0, 1.0]  # camera 1 m up the z axis, looking down +z
    return SceneFeatures("s", FeaturePoints(xyz, torch.full((4, 3), 0.5), features, "test"),
                         {"f0": pose}, {"f0": torch.tensor([0, 1, 2])})


def test_roundtrip_and_format_check(tmp_path):
    scene = _scene()
    loaded = load_scene_features(save_scene_features(tmp_path / "s.pt", scene))
    torch.testing.assert_close(loaded.points.features, scene.points.features, atol=1e-3, rtol=0)
    assert loaded.points.source == "test" and loaded.frame_points["f0"].tolist() == [0, 1, 2]
    np.testing.assert_array_equal(loaded.frame_poses["f0"], scene.frame_poses["f0"])
    torch.save({"format": "other"}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a lerf3d-scene-features"):
        load_scene_features(tmp_path / "bad.pt")


def test_token_store_scene_and_egocentric_frames():
    pooling = PoolingConfig(voxel_size=0.2, max_tokens=8)
    config = TokenConfig(pooling, pooling)
    store = TokenStore({"s": _scene()}, config)
    scene = store.scene("s")
    assert scene.frame == "scene" and scene.num_tokens == 3  # the two close points share a voxel
    frame = store.tokens_for("s", "f0")
    assert frame.frame == "ego" and frame.num_tokens == 2  # the far point is not seen by f0
    torch.testing.assert_close(frame.xyz.amin(0), torch.tensor([0.025, 0.0, 1.0]))  # camera frame
    assert store.scene("s") is scene  # pooled once
    with pytest.raises(KeyError, match="no frame"):
        store.frame("s", "nope")
    with pytest.raises(KeyError, match="no features for scene"):
        store.scene("other")


def test_a_lazy_store_pools_the_same_tokens_and_lets_the_points_go(tmp_path):
    pooling = PoolingConfig(voxel_size=0.2, max_tokens=8)
    config = TokenConfig(pooling, pooling)
    (tmp_path / FEATURES_DIR).mkdir()
    save_scene_features(tmp_path / FEATURES_DIR / "s.pt", _scene())
    eager = TokenStore.from_dataset(tmp_path, ["s"], config)
    lazy = TokenStore.from_dataset(tmp_path, ["s"], config, lazy=True)
    assert set(eager.scenes) == {"s"} and lazy.scenes == {}  # nothing read yet
    assert lazy.points("s").feature_dim == 3 and set(lazy.scenes) == {"s"}
    lazy.pool([("s", None), ("s", "f0"), ("s", None)])
    assert lazy.scenes == {}  # tokens kept, points let go
    for key in (("s", None), ("s", "f0")):
        a, b = eager.tokens_for(*key), lazy.tokens_for(*key)
        torch.testing.assert_close(a.xyz, b.xyz, atol=1e-6, rtol=0)
        torch.testing.assert_close(a.features, b.features, atol=1e-3, rtol=0)  # the file stores half floats
    assert lazy.scenes == {}  # pooled tokens are served without the points
    with pytest.raises(KeyError, match="no frame"):  # anything else reloads the scene's file
        lazy.frame("s", "nope")
    assert set(lazy.scenes) == {"s"}
    frames_only = TokenStore.from_dataset(tmp_path, ["s"], config, lazy=True)
    frames_only.pool([("s", "f0")])  # a scene's own tokens come with any of its frames
    torch.testing.assert_close(frames_only.scene("s").xyz, eager.scene("s").xyz, atol=1e-6, rtol=0)
    assert frames_only.scenes == {}
    with pytest.raises(FileNotFoundError, match="no scene features at .*missing.pt"):
        TokenStore.from_dataset(tmp_path, ["s", "missing"], config, lazy=True)


def test_prepare_dataset_from_a_generated_room(tiny_room, tmp_path, monkeypatch):
    class Encoder:  # stands in for a trained tower: a colour statistic is enough to test the plumbing
        name, embedding_dim, input_size = "test:colour", 6, 16

        def encode_image(self, images):
            mean = images.mean(dim=(2, 3))  # (B, 3)
            return torch.nn.functional.normalize(torch.cat([mean, 1 - mean], dim=1), dim=1)

    from lerf3d.features import FeatureExtractor, FeatureExtractorConfig

    monkeypatch.setattr(prepare_module, "build_extractor", lambda cfg, cache, device: FeatureExtractor(
        FeatureExtractorConfig(pyramid=cfg.pyramid, show_progress=False), Encoder(), None, cache, device))
    generate_dataset([tiny_room], tmp_path / "data", DatasetConfig())
    written = prepare_dataset(tmp_path / "data", PrepareConfig(fusion_voxel=0.05))
    assert [p.name for p in written] == ["room_0.pt"]
    scene = load_scene_features(tmp_path / "data" / FEATURES_DIR / "room_0.pt")
    assert scene.points.feature_dim == 6 and scene.points.observed.float().mean() > 0.5
    assert len(scene.frame_points) == 12 and all(len(v) > 0 for v in scene.frame_points.values())
    record = tmp_path / "data" / FEATURES_DIR / PREPARE_RECORD
    stamp = record.stat().st_mtime_ns
    assert prepare_dataset(tmp_path / "data", PrepareConfig(fusion_voxel=0.05)) == []  # already there
    assert record.stat().st_mtime_ns == stamp  # left untouched: a run's saved tokens stay valid
