"""The per-phrase LRU cache of text embeddings."""

from __future__ import annotations

import pytest
import torch

from lerf3d.encoders.phrase_cache import PhraseCache


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, phrases: list[str]) -> torch.Tensor:
        self.batches.append(list(phrases))
        return torch.stack([torch.full((3,), float(len(p))) for p in phrases])


def test_encodes_only_new_phrases_once_in_one_batch() -> None:
    rec = Recorder()
    cache = PhraseCache(rec)
    out = cache(["a", "bb", "a"])
    assert rec.batches == [["a", "bb"]]
    torch.testing.assert_close(out[:, 0], torch.tensor([1.0, 2.0, 1.0]))
    cache(["bb", "ccc"])
    assert rec.batches[-1] == ["ccc"] and cache.misses == 3


def test_lru_eviction_and_oversized_batch() -> None:
    rec = Recorder()
    cache = PhraseCache(rec, maxsize=2)
    cache(["a", "b"])
    cache(["a"])  # "b" is now least recently used
    cache(["c"])
    assert len(cache) == 2
    cache(["a"])
    assert rec.batches[-1] == ["c"]  # "a" survived
    assert cache(["x", "y", "z"]).shape == (3, 3)  # larger than the cache: still every row
    assert len(cache) == 2


def test_returned_tensor_does_not_alias_cache() -> None:
    cache = PhraseCache(Recorder())
    cache(["a"]).zero_()
    assert cache(["a"])[0, 0] == 1.0


def test_rejects_string_and_empty() -> None:
    cache = PhraseCache(Recorder())
    with pytest.raises(TypeError, match="list"):
        cache("chair")
    with pytest.raises(ValueError, match="at least one"):
        cache([])
