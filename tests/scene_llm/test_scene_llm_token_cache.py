"""A run's pooled tokens on disk: the same tokens back, only for what made them, never a damaged
file, and a resumed run that reads them instead of pooling again."""

from __future__ import annotations

import os

import pytest
import torch

from lerf3d.scene_llm.tokens import scenes as scenes_module
from lerf3d.scene_llm.tokens.cache import load_tokens, save_tokens, tokens_fingerprint
from lerf3d.scene_llm.tokens.frames import SceneTokens
from lerf3d.scene_llm.train.config import preset
from lerf3d.scene_llm.train.loop import train_scene_llm
from lerf3d.scene_llm.train.run_files import TOKENS_NAME

TINY = preset("tiny")


def _tokens() -> dict:
    torch.manual_seed(0)
    lower = torch.rand(3, 3)
    boxed = SceneTokens(lower + 0.2, torch.randn(3, 5), torch.rand(3, 3), "scene", lower=lower, upper=lower + 0.4,
                        bounds=torch.tensor([[0.0, 0.0, 0.0], [4.0, 3.0, 2.5]]), confidence=torch.rand(3))
    plain = SceneTokens(torch.randn(2, 3), torch.randn(2, 5), None, "ego")
    return {("room_0", None): boxed, ("room_0", "frame_00012"): plain}


def test_tokens_come_back_as_saved_for_what_made_them(tmp_path):
    features = tmp_path / "room_0.pt"
    features.write_bytes(b"features")
    settings = {"tokens": TINY.tokens, "labels": ["chair", "sofa"]}
    fingerprint = tokens_fingerprint(settings, {"room_0": features})
    path = save_tokens(tmp_path / "tokens.pt", _tokens(), fingerprint)
    back = load_tokens(path, fingerprint)
    assert back is not None and back.keys() == _tokens().keys()
    for key, saved in _tokens().items():
        for name in ("xyz", "features", "rgb", "lower", "upper", "bounds", "confidence"):
            a, b = getattr(saved, name), getattr(back[key], name)
            assert (a is None and b is None) or torch.equal(a, b), (key, name)
        assert back[key].frame == saved.frame
    # made otherwise: other settings, other names, a features file written again
    assert tokens_fingerprint({**settings, "labels": ["chair"]}, {"room_0": features}) != fingerprint
    assert tokens_fingerprint({**settings, "tokens": preset("demo").tokens}, {"room_0": features}) != fingerprint
    os.utime(features, ns=(features.stat().st_atime_ns, features.stat().st_mtime_ns + 1_000_000))
    assert load_tokens(path, tokens_fingerprint(settings, {"room_0": features})) is None
    assert load_tokens(tmp_path / "none.pt", fingerprint) is None


def test_a_damaged_tokens_file_is_reported_and_not_trusted(tmp_path):
    path = tmp_path / "tokens.pt"
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="tokens.pt"):
        assert load_tokens(path, "abc") is None
    torch.save({"format": "something else"}, path)
    with pytest.warns(UserWarning, match="not a lerf3d tokens file"):
        assert load_tokens(path, "abc") is None


def test_a_resumed_run_reads_its_tokens_instead_of_pooling(synthetic_dataset, tmp_path, monkeypatch):
    """A stopped run saved the tokens it pooled; started again, it trains on them without pooling a
    token (pooling is made to fail) and ends where an uninterrupted run ends."""
    import dataclasses

    full = train_scene_llm(TINY, synthetic_dataset, tmp_path / "full", progress=False)
    half = dataclasses.replace(TINY, stage1=dataclasses.replace(TINY.stage1, steps=2))
    train_scene_llm(half, synthetic_dataset, tmp_path / "split", stages=(1,), progress=False)
    assert (tmp_path / "split" / TOKENS_NAME).is_file()

    def no_pooling(*args, **kwargs):
        raise AssertionError("tokens pooled again")

    monkeypatch.setattr(scenes_module, "pool_points", no_pooling)
    monkeypatch.setattr(scenes_module, "egocentric_tokens", no_pooling)
    resumed = train_scene_llm(TINY, synthetic_dataset, tmp_path / "split", progress=False)
    for a, b in zip(full, resumed, strict=True):
        torch.testing.assert_close([h["loss"] for h in a.history], [h["loss"] for h in b.history])
    with pytest.raises(AssertionError, match="pooled again"):  # the guard does guard: a new run pools
        train_scene_llm(TINY, synthetic_dataset, tmp_path / "fresh", progress=False)
