"""FeatureExtractor on small captures: cache hits, misses, invalidation and recovery."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from lerf3d.features.cache import FeatureCacheWarning
from lerf3d.features.extractor import FeatureExtractor, FeatureExtractorConfig
from lerf3d.features.tiling import PyramidConfig, pyramid_layout

CONFIG = FeatureExtractorConfig(show_progress=False, batch_size=50)
CROPS_PER_IMAGE = sum(layout.num_crops for layout in pyramid_layout(PyramidConfig(), 48, 64))


def _extractor(image_text, dense, cache_dir, config=CONFIG):
    return FeatureExtractor(config, image_text, dense, cache_dir)


def test_extracts_every_frame(small_capture, image_text_encoder, dense_encoder, tmp_path):
    features = _extractor(image_text_encoder, dense_encoder, tmp_path / "cache").extract(small_capture)
    assert list(features.frames) == ["frame_000", "frame_001", "frame_002"]
    assert (features.cache_hits, features.cache_misses) == (0, 6)  # pyramid + DINO per frame
    assert image_text_encoder.images == 3 * CROPS_PER_IMAGE and dense_encoder.calls == 3
    pyramid = features.pyramid("frame_001")
    assert pyramid.num_levels == 7 and pyramid.embedding_dim == 16
    assert tuple(features.dino("frame_002").features.shape) == (6, 8, 8)
    assert features.image_text_encoder == image_text_encoder.name
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 6
    with pytest.raises(KeyError, match="no features for frame"):
        features.pyramid("nope")


def test_second_run_reads_the_cache(small_capture, image_text_encoder, dense_encoder, tmp_path):
    first = _extractor(image_text_encoder, dense_encoder, tmp_path).extract(small_capture)
    image_text_encoder.calls = dense_encoder.calls = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean cache must load without a single warning
        second = _extractor(image_text_encoder, dense_encoder, tmp_path).extract(small_capture)
    assert image_text_encoder.calls == 0 and dense_encoder.calls == 0
    assert (second.cache_hits, second.cache_misses) == (6, 0)
    for name in first.frames:
        for a, b in zip(first.pyramid(name).levels, second.pyramid(name).levels):
            assert torch.equal(a.embeddings, b.embeddings)
        assert torch.equal(first.dino(name).features, second.dino(name).features)


def test_changed_pyramid_setting_misses_only_the_pyramids(
    small_capture, image_text_encoder, dense_encoder, tmp_path
):
    _extractor(image_text_encoder, dense_encoder, tmp_path).extract(small_capture)
    image_text_encoder.calls = dense_encoder.calls = 0
    config = dataclasses.replace(CONFIG, pyramid=PyramidConfig(num_levels=5))
    features = _extractor(image_text_encoder, dense_encoder, tmp_path, config).extract(small_capture)
    assert (features.cache_hits, features.cache_misses) == (3, 3)
    assert image_text_encoder.calls > 0 and dense_encoder.calls == 0
    assert features.pyramid("frame_000").num_levels == 5


def test_batch_size_is_not_part_of_the_key(small_capture, image_text_encoder, tmp_path):
    _extractor(image_text_encoder, None, tmp_path).extract(small_capture)
    image_text_encoder.calls = 0
    config = dataclasses.replace(CONFIG, batch_size=7)
    features = _extractor(image_text_encoder, None, tmp_path, config).extract(small_capture)
    assert image_text_encoder.calls == 0 and features.cache_hits == 3
    with pytest.raises(ValueError, match="without a dense encoder"):
        features.dino("frame_000")


def test_another_encoder_misses(small_capture, image_text_encoder, encoder_class, tmp_path):
    _extractor(image_text_encoder, None, tmp_path).extract(small_capture)
    other = encoder_class(seed=5)  # the same tiny architecture with other weights: another name
    features = _extractor(other, None, tmp_path).extract(small_capture)
    assert features.cache_misses == 3 and other.images == 3 * CROPS_PER_IMAGE


def test_changed_image_is_recomputed(small_capture, image_text_encoder, dense_encoder, tmp_path):
    _extractor(image_text_encoder, dense_encoder, tmp_path / "cache").extract(small_capture)
    path = small_capture.frame("frame_001").rgb_path
    pixels = np.asarray(Image.open(path)).copy()
    pixels[10, 10] ^= 0x80
    Image.fromarray(pixels).save(path)
    image_text_encoder.images = dense_encoder.calls = 0
    features = _extractor(image_text_encoder, dense_encoder, tmp_path / "cache").extract(small_capture)
    assert (features.cache_hits, features.cache_misses) == (4, 2)
    assert image_text_encoder.images == CROPS_PER_IMAGE and dense_encoder.calls == 1


def test_truncated_file_is_recomputed_with_a_warning(small_capture, image_text_encoder, tmp_path):
    first = _extractor(image_text_encoder, None, tmp_path).extract(small_capture)
    victim = sorted(tmp_path.glob("pyramid-*.npz"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    image_text_encoder.images = 0
    with pytest.warns(FeatureCacheWarning, match="unreadable"):
        second = _extractor(image_text_encoder, None, tmp_path).extract(small_capture)
    assert (second.cache_hits, second.cache_misses) == (2, 1)
    assert image_text_encoder.images == CROPS_PER_IMAGE
    for name in first.frames:  # the recomputed pyramid equals the original one
        for a, b in zip(first.pyramid(name).levels, second.pyramid(name).levels):
            assert torch.equal(a.embeddings, b.embeddings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and the rewritten file is good again
        third = _extractor(image_text_encoder, None, tmp_path).extract(small_capture)
    assert third.cache_hits == 3


def test_runs_without_a_cache(small_capture, image_text_encoder, dense_encoder):
    features = _extractor(image_text_encoder, dense_encoder, None).extract(small_capture)
    assert features.cache_misses == 6 and len(features.frames) == 3


def test_config_validation():
    with pytest.raises(ValueError, match="batch_size"):
        FeatureExtractorConfig(batch_size=0)
