"""run_features: specs -> encoders -> cache folder, from a capture on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lerf3d.capture.errors import CaptureError
from lerf3d.encoders import registry
from lerf3d.features.command import run_features


@pytest.fixture
def built(monkeypatch, image_text_encoder, dense_encoder):
    """Route the registry's builders to the tiny test encoders, recording the specs asked for."""
    asked = []

    def image_text(spec, device):
        asked.append(("image_text", spec, str(device)))
        return image_text_encoder

    def dense(spec, device):
        asked.append(("dense", spec, str(device)))
        return dense_encoder

    monkeypatch.setattr(registry, "build_image_text_encoder", image_text)
    monkeypatch.setattr(registry, "build_dense_encoder", dense)
    return asked


def _write_transforms(capture) -> None:
    frames = [
        {"file_path": f"{frame.name}.png", "transform_matrix": np.eye(4).tolist()} for frame in capture.frames
    ]
    meta = {"fl_x": 64.0, "fl_y": 64.0, "cx": 32.0, "cy": 24.0, "w": 64, "h": 48, "frames": frames}
    (capture.root / "transforms.json").write_text(json.dumps(meta))


def test_run_features_from_a_nerfstudio_folder(built, small_capture, image_text_encoder, tmp_path):
    _write_transforms(small_capture)
    summary, features = run_features(
        small_capture.root, tmp_path / "out", "fake:clip", "fake:dino", batch_size=100, show_progress=False
    )
    assert built == [("image_text", "fake:clip", "cpu"), ("dense", "fake:dino", "cpu")]
    assert (summary.num_frames, summary.cache_hits, summary.cache_misses) == (3, 0, 6)
    assert sorted(features.frames) == ["frame_000", "frame_001", "frame_002"]
    assert len(list((tmp_path / "out").glob("*.npz"))) == 6
    assert "3 frames" in summary.describe() and "6 feature files computed" in summary.describe()

    image_text_encoder.calls = 0
    again, _ = run_features(small_capture, tmp_path / "out", "fake:clip", "fake:dino", show_progress=False)
    assert (again.cache_hits, again.cache_misses) == (6, 0) and image_text_encoder.calls == 0


def test_without_dense_spec_no_dino(built, small_capture, tmp_path):
    summary, features = run_features(small_capture, tmp_path / "out", "fake:clip", None, show_progress=False)
    assert [kind for kind, _, _ in built] == ["image_text"]
    assert summary.dense_encoder is None
    assert all(frame.dino is None for frame in features.frames.values())
    assert summary.cache_misses == 3


def test_unknown_capture_folder_is_a_clear_error(built, tmp_path):
    with pytest.raises(CaptureError, match="unrecognised capture"):
        run_features(tmp_path, tmp_path / "out", "fake:clip", None, show_progress=False)
