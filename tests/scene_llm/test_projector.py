"""Projector shapes, and its checkpoint: round trip, atomic write, clear errors on mismatch."""

import pytest
import torch
from torch import nn

from lerf3d.scene_llm.model.projector import ProjectorConfig, build_projector, load_projector, save_projector


def test_mlp2x_gelu_layout_and_output():
    cfg = ProjectorConfig(d_in=7, hidden=16, d_llm=32)
    proj = build_projector(cfg)
    assert [type(m) for m in proj] == [nn.Linear, nn.GELU, nn.Linear]
    assert proj[0].weight.shape == (16, 7) and proj[2].weight.shape == (32, 16)
    x = torch.randn(2, 5, 7)
    assert proj(x).shape == (2, 5, 32)
    # it is exactly Linear -> GELU -> Linear
    expected = proj[2](torch.nn.functional.gelu(proj[0](x)))
    torch.testing.assert_close(proj(x), expected)


def test_linear_kind_and_dtype():
    proj = build_projector(ProjectorConfig(d_in=4, hidden=1, d_llm=8, kind="linear"), dtype=torch.float64)
    assert len(proj) == 1 and proj[0].weight.shape == (8, 4) and proj[0].weight.dtype == torch.float64


def test_config_validates():
    with pytest.raises(ValueError, match="d_in"):
        ProjectorConfig(d_in=0, hidden=4, d_llm=4)
    with pytest.raises(ValueError, match="kind"):
        ProjectorConfig(d_in=3, hidden=4, d_llm=4, kind="mlp3x")


def test_save_load_round_trip(tmp_path):
    cfg = ProjectorConfig(d_in=6, hidden=12, d_llm=10)
    proj = build_projector(cfg)
    path = tmp_path / "sub" / "projector.pt"
    save_projector(proj, cfg, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["projector.pt"]  # no temp file left
    loaded, loaded_cfg = load_projector(path, expected=cfg)
    assert loaded_cfg == cfg
    x = torch.randn(3, 6)
    torch.testing.assert_close(loaded(x), proj(x))
    # overwriting is atomic too and leaves the new weights
    with torch.no_grad():
        proj[0].weight.add_(1.0)
    save_projector(proj, cfg, path)
    torch.testing.assert_close(load_projector(path)[0](x), proj(x))


def test_failed_save_leaves_old_file_and_no_temp(tmp_path):
    cfg = ProjectorConfig(d_in=3, hidden=4, d_llm=5)
    path = tmp_path / "projector.pt"
    save_projector(build_projector(cfg), cfg, path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="do not match"):
        save_projector(build_projector(ProjectorConfig(d_in=9, hidden=4, d_llm=5)), cfg, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["projector.pt"]


def test_load_mismatch_errors_are_clear(tmp_path):
    cfg = ProjectorConfig(d_in=3, hidden=4, d_llm=5)
    path = tmp_path / "projector.pt"
    save_projector(build_projector(cfg), cfg, path)
    with pytest.raises(ValueError, match="d_llm=8.*expected|expected.*d_llm=8"):
        load_projector(path, expected=ProjectorConfig(d_in=3, hidden=4, d_llm=8))
    # weights that disagree with the stored config (a hand-edited or corrupted file)
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["2.weight"] = torch.zeros(6, 4)
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"2\.weight: expected \(5, 4\), found \(6, 4\)"):
        load_projector(path)
    torch.save({"something": "else"}, path)
    with pytest.raises(ValueError, match="not a lerf3d projector"):
        load_projector(path)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_projector(tmp_path / "missing.pt")
