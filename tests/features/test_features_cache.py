"""The on-disk feature cache: keys, atomic writes, corruption detection."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from lerf3d.features.cache import (
    CacheKey,
    FeatureCache,
    FeatureCacheWarning,
    image_digest,
    settings_digest,
)
from lerf3d.features.tiling import PyramidConfig

KEY = CacheKey("pyramid", "ab" * 32, "test:conv", "cd" * 32)


def identity(arrays):
    return arrays


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"embeddings": rng.standard_normal((40, 30, 16)).astype(np.float16), "size": np.array([4, 5])}


def test_round_trip_and_no_leftover_temporary_files(tmp_path, arrays):
    cache = FeatureCache(tmp_path / "cache")
    assert cache.load(KEY, identity) is None
    path = cache.save(KEY, arrays)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [path.name]
    loaded = cache.load(KEY, identity)
    assert loaded.keys() == arrays.keys()
    np.testing.assert_array_equal(loaded["embeddings"], arrays["embeddings"])
    assert loaded["embeddings"].dtype == np.float16


@pytest.mark.parametrize(
    "change", [{"kind": "dino"}, {"image_digest": "00"}, {"encoder_name": "x"}, {"settings_digest": "1"},
               {"format_version": 2}]
)
def test_every_key_field_changes_the_file(change):
    assert dataclasses.replace(KEY, **change).filename() != KEY.filename()


def _expect_rejection(cache: FeatureCache, key: CacheKey, reason: str) -> None:
    with pytest.warns(FeatureCacheWarning, match=reason):
        assert cache.load(key, identity) is None


def test_truncated_file_is_rejected_with_a_warning(tmp_path, arrays):
    cache = FeatureCache(tmp_path)
    path = cache.save(KEY, arrays)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_rejection(cache, KEY, "unreadable")


def test_flipped_byte_is_rejected(tmp_path, arrays):
    cache = FeatureCache(tmp_path)
    path = cache.save(KEY, arrays)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the embeddings member: the zip CRC or our checksum catches it
    path.write_bytes(bytes(data))
    _expect_rejection(cache, KEY, "recomputing")


def test_checksum_catches_a_consistent_but_altered_archive(tmp_path, arrays):
    cache = FeatureCache(tmp_path)
    path = cache.save(KEY, arrays)
    with np.load(path) as stored:
        members = {name: stored[name] for name in stored.files}
    members["embeddings"] = members["embeddings"] * 2  # a valid zip with valid CRCs, wrong content
    with open(path, "wb") as handle:
        np.savez(handle, **members)
    _expect_rejection(cache, KEY, "checksum mismatch")


def test_file_under_another_key_is_rejected(tmp_path, arrays):
    cache = FeatureCache(tmp_path)
    other = dataclasses.replace(KEY, encoder_name="other")
    cache.path(other).parent.mkdir(exist_ok=True)
    cache.save(KEY, arrays).rename(cache.path(other))
    _expect_rejection(cache, other, "does not match")


def test_decode_failure_is_a_rejection(tmp_path, arrays):
    cache = FeatureCache(tmp_path)
    cache.save(KEY, arrays)
    with pytest.warns(FeatureCacheWarning, match="does not decode"):
        assert cache.load(KEY, lambda a: a["missing"]) is None


def test_save_overwrites_and_reserved_name(tmp_path, arrays):
    cache = FeatureCache(tmp_path)
    cache.save(KEY, arrays)
    cache.save(KEY, {"size": np.array([7])})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.load(KEY, identity)["size"].tolist() == [7]
    with pytest.raises(ValueError, match="reserved"):
        cache.save(KEY, {"__meta__": np.zeros(1)})


def test_image_digest_follows_pixels_and_shape():
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    assert image_digest(image) == image_digest(image.copy())
    changed = image.copy()
    changed[3, 5, 2] = 1
    assert image_digest(changed) != image_digest(image)
    assert image_digest(image.reshape(6, 4, 3)) != image_digest(image)  # same bytes, other shape


def test_settings_digest_follows_every_setting():
    base = settings_digest({"pyramid": PyramidConfig(), "input_size": 224})
    assert base == settings_digest({"input_size": 224, "pyramid": PyramidConfig()})
    assert base != settings_digest({"pyramid": PyramidConfig(num_levels=5), "input_size": 224})
    assert base != settings_digest({"pyramid": PyramidConfig(stride_ramp=(0.05, 0.2)), "input_size": 224})
    assert base != settings_digest({"pyramid": PyramidConfig(), "input_size": 160})
    with pytest.raises(TypeError, match="cannot hash"):
        settings_digest({"x": object()})
