"""Queries from a real training checkpoint: a short run of the trainer on the tiny room, then
session_from_checkpoint and the four commands through their run_* entry points."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from query_helpers import HashTextEncoder

from lerf3d.capture import load_capture
from lerf3d.features.extractor import FeatureExtractor
from lerf3d.fusion import FusionConfig, fuse_capture, save_fusion
from lerf3d.query import checkpoint as checkpoint_module
from lerf3d.query.checkpoint import open_scene, session_from_checkpoint
from lerf3d.query.commands import run_eval, run_export, run_query, run_render
from lerf3d.query.session import QuerySession, QuerySessionConfig
from lerf3d.runs import resolve_checkpoint

STEPS = 20
CONFIG = QuerySessionConfig(num_scales=4, point_scales=(0.3, 1.0))


@pytest.fixture(scope="module")
def trained(tiny_room, tmp_path_factory):
    """(run directory, trainer) after a 20-step run of the tiny preset with the test encoder's pyramids."""
    from lerf3d.train import Trainer, load_preset

    run = tmp_path_factory.mktemp("run")
    capture = load_capture(tiny_room)
    fused = fuse_capture(capture, FusionConfig(voxel_size=0.04, progress=False))
    save_fusion(fused, run / "fusion")
    config = load_preset("tiny").with_steps(STEPS)
    config = replace(config, features=replace(config.features, show_progress=False))
    features = FeatureExtractor(config.features, HashTextEncoder(), None, run / "features").extract(capture)
    trainer = Trainer(config, capture, fused.bounds, features, run, "cpu", fused.points)
    trainer.train()
    return run, trainer


@pytest.fixture
def test_encoder(monkeypatch):
    """The run's encoder ("test:hash-16") is no registry spec: commands get it through this seam."""
    encoder = HashTextEncoder()
    monkeypatch.setattr(checkpoint_module, "build_encoder", lambda recorded, spec, device: encoder)
    return encoder


def test_from_checkpoint_matches_the_trained_model(trained, test_encoder):
    run, trainer = trained
    session = session_from_checkpoint(run, encoder=test_encoder, config=CONFIG)
    reference = QuerySession(trainer.model, test_encoder, config=CONFIG)
    scene = open_scene(run, encoder=test_encoder, config=CONFIG)
    camera = scene.camera("eval:0")
    for a, b in zip(session.query(camera, ["oven", "chair"]), reference.query(camera, ["oven", "chair"])):
        torch.testing.assert_close(a.values, b.values)
        assert a.scale == b.scale
    assert scene.points is not None and scene.session.field.occupancy is not None  # from RUN/fusion
    assert scene.train_frames == tuple(f.name for f in trainer.data.train_frames)
    assert resolve_checkpoint(run) == trainer.last_checkpoint


def test_commands_from_a_checkpoint(trained, test_encoder, tmp_path):
    import imageio.v3 as iio

    run, _ = trained
    ckpt = resolve_checkpoint(run)
    out = run_query(ckpt, ["oven"], tmp_path / "q", camera="train:1")
    assert [p.name for p in out.images] == ["frame_00002_oven.png", "frame_00002_rgb.png"]
    video = run_render(ckpt, ["oven"], tmp_path / "orbit.gif", num_frames=2, size=(32, 24), fps=2)
    assert video.is_file()
    along = run_render(ckpt, ["oven"], tmp_path / "frames.gif", path="frames", num_frames=2, size=(32, 24), fps=2)
    assert iio.imread(along, index=None).shape[:3] == (2, 24, 32)  # the run's capture, reopened
    export = run_export(ckpt, "oven", tmp_path / "oven.ply")
    assert export.ply.is_file() and json.loads(export.box_json.read_text())["phrase"] == "oven"
    result = run_eval(ckpt, None, tmp_path / "eval.json", max_views=1)
    assert {s.method for s in result.scores} == {"lerf3d-field", "2d-pyramid", "point-fusion"}


def test_command_errors(trained, test_encoder, tmp_path):
    run, _ = trained
    with pytest.raises(ValueError, match="exactly one"):
        run_query(run, ["oven"], tmp_path, camera="train:0", pose=tmp_path / "p.json")
    with pytest.raises(ValueError, match="empty"):
        run_query(run, [" "], tmp_path, camera="train:0")
    with pytest.raises(FileNotFoundError):
        run_query(tmp_path / "missing.ckpt", ["oven"], tmp_path, camera="train:0")
    with pytest.raises(ValueError, match="only 'orbit'"):
        run_render(run, ["oven"], tmp_path / "v.gif", path="spiral")
    with pytest.raises(ValueError, match=".ply"):
        run_export(run, "oven", tmp_path / "oven.obj")
