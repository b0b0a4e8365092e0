"""Presets as TOML data: loading, validation with clear errors, overrides, round trips."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lerf3d.train import ConfigError, TrainConfig, apply_override, from_mapping, load_preset, preset_names
from lerf3d.train.optimisers import OptimiserConfig, decay_factor
from lerf3d.typed_config import to_plain


def test_shipped_presets_load():
    assert {"tiny", "default", "big"} <= set(preset_names())
    tiny, default, big = (load_preset(n) for n in ("tiny", "default", "big"))
    assert tiny.steps < default.steps < big.steps
    assert tiny.field.radiance.grid.log2_table_size < big.field.radiance.grid.log2_table_size
    assert len(big.field.language.grids) == 2 and big.features.pyramid.num_levels == 7  # LERF's sizes
    assert tiny.optim.language.kind == "radam"  # LERF's optimiser for the language field


def test_presets_ship_inside_the_package():
    """A wheel (non-editable install) carries the presets: they live in the package and are package data."""
    from pathlib import Path

    import tomllib

    import lerf3d
    from lerf3d.train.presets import CONFIGS_DIR

    package = Path(lerf3d.__file__).resolve().parent
    assert CONFIGS_DIR.parent == package and sorted(p.stem for p in CONFIGS_DIR.glob("*.toml")) == preset_names()
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    assert "configs/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["lerf3d"]


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ConfigError, match="unknown preset 'tinny'.*did you mean tiny.*presets: big, default, tiny"):
        load_preset("tinny")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps = 0", r"steps must be >= 1, got 0"),
        ("[optim.radiance]\nlr = -0.01", r"\[optim.radiance\] lr and lr_final must be positive, got lr=-0.01"),
        ("[data]\nrays_per_batch = 0", r"rays_per_batch must be >= 1"),
        ("[loss]\nclip = -1.0", r"loss weight clip must be >= 0"),
        ("[field.radiance.gird]\nnum_levels = 4", r"unknown key 'field.radiance.gird'; did you mean grid\?"),
        ("steps = 1.5", r"steps must be an integer, got 1.5"),
        ("[field]\nbackground = 'grey'", r"field.background must be one of"),
        ("steps = [", r"not valid TOML"),
    ],
)
def test_bad_values_are_rejected_with_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_preset(path)
    assert str(path) in str(info.value)


def test_toml_arrays_of_tables_and_none(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        "steps = 7\n[field]\nlanguage = 'none'\n"
        "[features.pyramid]\nnum_levels = 2\nstride_ramp = [0.1, 0.2]\n"
    )
    config = load_preset(path)
    assert config.steps == 7 and config.field.language is None
    assert config.features.pyramid.stride_ramp == (0.1, 0.2)
    path.write_text(
        "[[field.language.grids]]\nbase_resolution = 8\nmax_resolution = 64\n"
        "[[field.language.grids]]\nnum_levels = 4\n"
    )
    grids = load_preset(path).field.language.grids
    assert [(g.base_resolution, g.max_resolution, g.num_levels) for g in grids] == [(8, 64, 16), (16, 2048, 4)]


def test_overrides_use_dotted_keys_and_validate():
    config = load_preset("tiny")
    changed = apply_override(config, "optim.radiance.lr", "5e-3")
    assert changed.optim.radiance.lr == 5e-3 and config.optim.radiance.lr != 5e-3
    assert apply_override(config, "field.background", "white").field.background == "white"
    assert apply_override(config, "field.language", "none").field.language is None
    with pytest.raises(ConfigError, match="lr and lr_final must be positive"):
        apply_override(config, "optim.language.lr", "-1")
    with pytest.raises(ConfigError, match="unknown key 'optimm'; did you mean optim"):
        apply_override(config, "optimm.radiance.lr", "1")
    assert replace(config, steps=3).steps == 3


def test_plain_round_trip_is_exact():
    for name in ("tiny", "default", "big"):
        config = load_preset(name)
        assert from_mapping(TrainConfig, to_plain(config)) == config


def test_learning_rate_decays_exponentially_to_its_final_value():
    config = OptimiserConfig(lr=1e-2, lr_final=1e-4)
    assert decay_factor(0, 100, config) == 1.0
    assert decay_factor(50, 100, config) == pytest.approx(0.1)  # halfway in log space
    assert decay_factor(100, 100, config) == pytest.approx(0.01)
    assert decay_factor(500, 100, config) == pytest.approx(0.01)  # constant after the end
    warm = OptimiserConfig(warmup_steps=4)
    assert [decay_factor(s, 100, warm) for s in range(2)] == [0.25, 0.5]


def test_cli_reports_bad_config_values(tiny_room, tmp_path, capsys):
    from lerf3d_cli.main import main

    assert main(["train", str(tiny_room), "--out", str(tmp_path), "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # counts are checked when the command line is parsed
        main(["train", str(tiny_room), "--out", str(tmp_path), "--preset", "tiny", "--steps", "0"])
    assert refused.value.code == 2 and "'0' must be at least 1" in capsys.readouterr().err
    assert main(["train", str(tiny_room), "--out", str(tmp_path), "--preset", "tiny",
                 "--set", "optim.radiance.lr=-1"]) == 2
    assert "lr and lr_final must be positive" in capsys.readouterr().err
