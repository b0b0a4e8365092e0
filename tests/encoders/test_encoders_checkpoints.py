"""Checkpoint unwrapping and strict loading with readable errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lerf3d.encoders.checkpoints import MissingWeightsError, load_into, load_weights_file, unwrap_state_dict


def test_unwrap_nested_and_prefixed() -> None:
    w = torch.ones(2)
    assert unwrap_state_dict({"teacher": {"module.backbone.x": w}, "epoch": 3}) == {"x": w}
    assert unwrap_state_dict({"state_dict": {"a": w}}) == {"a": w}
    with pytest.raises(ValueError, match="no state dict"):
        unwrap_state_dict({"epoch": 3})


def test_load_weights_file_roundtrip_and_missing(tmp_path) -> None:
    path = tmp_path / "w.pt"
    torch.save({"model": {"a": torch.arange(3)}}, path)
    assert torch.equal(load_weights_file(path)["a"], torch.arange(3))
    with pytest.raises(MissingWeightsError, match="does not exist"):
        load_weights_file(tmp_path / "nope.pt")


def test_load_into_reports_mismatches() -> None:
    net = nn.Linear(2, 3)
    with pytest.raises(ValueError, match=r"missing \['bias'\].*unexpected \['extra'\]"):
        load_into(net, {"weight": torch.zeros(3, 2), "extra": torch.zeros(1)}, "ckpt")
    with pytest.raises(ValueError, match="wrong shape"):
        load_into(net, {"weight": torch.zeros(2, 2), "bias": torch.zeros(3)}, "ckpt")
    state = {"weight": torch.zeros(3, 2), "bias": torch.ones(3), "skip": torch.zeros(1)}
    load_into(net, state, "ckpt", ignore=("skip",))
    assert torch.equal(net.bias.detach(), torch.ones(3))
