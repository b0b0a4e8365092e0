"""``lerf3d view CKPT``: the sub-command, a real (2-step) training checkpoint opened and served,
the warning when listening beyond localhost, and lerf3d's command line without the viewer."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from gt_scene import LabelTextEncoder
from viewer_http import decode_f32, post_json

from lerf3d.objects.store import OBJECTS_FILE
from lerf3d.query import checkpoint as checkpoint_module
from lerf3d_cli import main as lerf3d_cli
from viewer import server as server_module
from viewer.config import ViewerConfig
from viewer.server import make_server, serve_in_thread


class ColourLabelEncoder(LabelTextEncoder):
    """The label encoder plus an image tower (a fixed projection of mean colours), so the trainer
    can extract crop pyramids with it."""

    def __init__(self) -> None:
        super().__init__(16)
        self.name = "test:colour-labels-16"
        self.mix = torch.randn(12, 16, generator=torch.Generator().manual_seed(3))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(images - 0.5, 2).flatten(1)  # (B, 3 * 2 * 2)
        return F.normalize(pooled @ self.mix, dim=-1)


@pytest.fixture(scope="module")
def trained_run(tiny_room, tmp_path_factory):
    """A run folder after 2 steps of the tiny preset: checkpoints/, fusion/points.ply, features/."""
    from lerf3d.capture import load_capture
    from lerf3d.features.extractor import FeatureExtractor
    from lerf3d.fusion import FusionConfig, fuse_capture, save_fusion
    from lerf3d.train import Trainer, load_preset

    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("view_run")
    capture = load_capture(tiny_room)
    fused = fuse_capture(capture, FusionConfig(voxel_size=0.04, progress=False))
    save_fusion(fused, run / "fusion")
    config = load_preset("tiny").with_steps(2)
    config = replace(config, features=replace(config.features, show_progress=False))
    encoder = ColourLabelEncoder()
    features = FeatureExtractor(config.features, encoder, None, run / "features").extract(capture)
    Trainer(config, capture, fused.bounds, features, run, "cpu", fused.points).train()
    return run, encoder


def test_view_opens_a_checkpoint_and_serves_it(trained_run, tiny_room, monkeypatch, tmp_path, capsys):
    run, encoder = trained_run
    monkeypatch.setattr(checkpoint_module, "build_encoder", lambda recorded, spec, device: encoder)
    handed = {}
    monkeypatch.setattr(server_module, "serve",
                        lambda scene, config, verbose=False, listener=None: handed.update(scene=scene, config=config))
    argv = ["view", str(run), "--port", "0", "--outputs", str(tmp_path), "--max-points", "500",
            "--size", "48"]
    assert lerf3d_cli.main([*argv, "--no-llm"]) == 0
    scene, config = handed["scene"], handed["config"]
    assert (config.host, config.port, config.full_long_side) == ("127.0.0.1", 0, 48)
    assert len(scene.points.xyz) == 500 and scene.chat is None
    # the run's objects were built and saved, and are served as boxes
    saved = run / "objects" / OBJECTS_FILE
    assert scene.objects is not None and saved.is_file() and scene.objects.encoder == encoder.name
    assert "objects built (none saved)" in capsys.readouterr().out
    assert list(scene.cameras)[:2] == ["frame_00000", "frame_00001"] and scene.capture_root == tiny_room
    assert scene.title == run.name
    server = make_server(scene, config)
    serve_in_thread(server)
    try:
        status, data = post_json(server.url.rstrip("/"), "/api/query",
                                 {"camera": {"name": "frame_00001"}, "phrases": "oven, chair"})
        assert status == 200, data
        assert (data["width"], data["height"]) == (48, 36)
        assert decode_f32(data["results"][1]["view"]["values"]).shape == (48 * 36,)
        assert decode_f32(data["results"][0]["points"]["values"]).shape == (500,)
        status, listing = post_json(server.url.rstrip("/"), "/api/objects", {"labels": "oven, chair"})
        assert status == 200 and listing["count"] == len(scene.objects)
    finally:
        server.shutdown()
        server.server_close()
    # a second start loads the saved objects; --no-objects skips them
    stamp = saved.stat().st_mtime_ns
    assert lerf3d_cli.main([*argv, "--no-llm"]) == 0
    assert "objects loaded" in capsys.readouterr().out and saved.stat().st_mtime_ns == stamp
    assert len(handed["scene"].objects) == len(scene.objects)
    assert lerf3d_cli.main([*argv, "--no-llm", "--no-objects"]) == 0
    out = capsys.readouterr().out
    assert handed["scene"].objects is None and "objects built" not in out and "objects loaded" not in out


def test_view_loads_the_packaged_scene_llm_by_default(trained_run, tiny_room, monkeypatch, tmp_path):
    import viewer.chat as chat_module
    from viewer import cli as viewer_cli

    run, encoder = trained_run
    monkeypatch.setattr(checkpoint_module, "build_encoder", lambda recorded, spec, device: encoder)
    monkeypatch.setattr(server_module, "serve", lambda scene, config, verbose=False, listener=None: None)
    monkeypatch.setattr(viewer_cli, "packaged_llm", lambda: tmp_path / "packaged")
    loaded = []
    monkeypatch.setattr(chat_module, "load_chat", lambda *args: loaded.append(args) or (lambda q: "yes"))
    argv = ["view", str(run), "--port", "0", "--outputs", str(tmp_path), "--max-points", "50", "--no-objects"]
    assert lerf3d_cli.main(argv) == 0
    assert loaded == [(tmp_path / "packaged", tiny_room, "cpu", None)]  # the run's own capture
    assert lerf3d_cli.main([*argv, "--llm", str(tmp_path / "mine")]) == 0
    assert loaded[-1][0] == tmp_path / "mine"


def test_view_errors_are_reported(tmp_path, capsys):
    assert lerf3d_cli.main(["view", str(tmp_path / "missing.ckpt")]) == 2
    assert "lerf3d view: error" in capsys.readouterr().err


def test_a_busy_port_is_an_error_before_the_checkpoint_loads(trained_run, monkeypatch, tmp_path, capsys):
    import viewer.scene as scene_module

    opened = []
    monkeypatch.setattr(scene_module, "load_viewer_scene", lambda *args, **kwargs: opened.append(args))
    taken = server_module.bind_listener(ViewerConfig(port=0))
    try:
        port = taken.getsockname()[1]
        argv = ["view", str(trained_run[0]), "--port", str(port), "--outputs", str(tmp_path), "--no-llm"]
        assert lerf3d_cli.main(argv) == 2
    finally:
        taken.close()
    err = capsys.readouterr().err.strip()
    assert err == (f"lerf3d view: error: port {port} on 127.0.0.1 is already in use (another viewer?): "
                   "stop it or pass --port N")
    assert opened == []


def test_serving_beyond_localhost_prints_a_warning(gt_scene, monkeypatch, capsys, tmp_path):
    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.ViewerHTTPServer, "serve_forever", interrupted)
    server_module.serve(gt_scene.viewer, ViewerConfig(host="0.0.0.0", port=0, outputs_dir=tmp_path))
    out = capsys.readouterr()
    assert "warning: listening on 0.0.0.0" in out.err and "no authentication" in out.err
    assert "lerf3d viewer: http://127.0.0.1:" in out.out and "stopped" in out.out
    server_module.serve(gt_scene.viewer, ViewerConfig(port=0, outputs_dir=tmp_path))
    assert "warning" not in capsys.readouterr().err


def test_lerf3d_works_without_the_viewer(monkeypatch):
    assert "view" in lerf3d_cli.build_parser()._subparsers._group_actions[0].choices
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "viewer" else real(name, *args))
    choices = lerf3d_cli.build_parser()._subparsers._group_actions[0].choices
    assert "view" not in choices and "fuse" in choices
