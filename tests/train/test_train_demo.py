"""The demo's training stage refuses to run without the embedded tower weights."""

from __future__ import annotations

import pytest

from lerf3d.encoders import MissingWeightsError, tiny
from lerf3d_cli.demo import DemoConfig, run_demo


def test_demo_without_tower_weights_stops_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tiny, "WEIGHTS_DIR", tmp_path / "no-weights")
    with pytest.raises(MissingWeightsError, match="Train them with `python -m data_tools.train_towers`"):
        run_demo(DemoConfig(out=tmp_path / "demo", preset="tiny"))
    assert not (tmp_path / "demo").exists()  # no room generated, nothing fused, nothing trained


def test_cli_demo_prints_the_missing_weights_message(tmp_path, monkeypatch, capsys):
    from lerf3d_cli.main import main

    monkeypatch.setattr(tiny, "WEIGHTS_DIR", tmp_path / "no-weights")
    assert main(["demo", "--out", str(tmp_path / "demo"), "--preset", "tiny"]) == 2
    assert "embedded tower weights" in capsys.readouterr().err
