"""Scene-LLM presets as TOML data: the same values as the Python presets they replaced, package data,
clear errors, and ``lerf3d llm-train``'s shorthand flags as ``--set`` overrides."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest
import tomllib
import torch

import lerf3d
from lerf3d.scene_llm.commands import add_train_arguments
from lerf3d.scene_llm.model.bridge import BridgeConfig
from lerf3d.scene_llm.model.llm import LLMConfig
from lerf3d.scene_llm.model.tiny_llm import TinyLlamaConfig
from lerf3d.scene_llm.tokens.frames import PoolingConfig, TokenEncoding
from lerf3d.scene_llm.tokens.scenes import TokenConfig
from lerf3d.scene_llm.tokens.segments import SegmentConfig
from lerf3d.scene_llm.train.config import (
    PRESETS_DIR,
    REQUIREMENTS,
    SWITCH_RULES,
    LoraSettings,
    SceneLLMConfig,
    StageConfig,
    preset,
    preset_names,
    shorthand_overrides,
)
from lerf3d.scene_llm.train.loop import config_from_args
from lerf3d.typed_config import ConfigError, apply_overrides

# The presets as they were written in Python before they became TOML files (spelled out here, not
# read from the files, so that a changed value in a file fails this test); "demo" has since gained
# object identifiers, token confidence, segment tokens named from crops, position digits,
# bfloat16 autocast, grounded answers (with room for them: 40 new tokens), scene-graph links, and the
# recipe of the weights trained on tokens named as objects: the object layer's segmentation, the
# census, counts first and ungrounded lists left out.
EXPECTED = {
    "tiny": SceneLLMConfig(
        llm=LLMConfig(name="tiny-random", tiny=TinyLlamaConfig(hidden_size=48, num_layers=2)),
        projector_hidden=32,
        tokens=TokenConfig(PoolingConfig(voxel_size=0.3, max_tokens=16), PoolingConfig(voxel_size=0.3, max_tokens=8)),
        stage1=StageConfig(steps=4, batch_size=2, checkpoint_every=2),
        stage2=StageConfig(steps=4, batch_size=2, llm_mode="lora", lora=LoraSettings(rank=4, alpha=8.0),
                           checkpoint_every=2, balance_types=True),
    ),
    "demo": SceneLLMConfig(
        projector_hidden=256,
        identifiers=True,
        position_digits=True,
        grounded_answers=True,
        max_new_tokens=40,
        neighbour_links=True,
        census=True,
        count_first=True,
        drop_ungrounded_lists=True,
        neighbour_names=True,
        grounded_links=True,
        wall_links=True,
        encoding=TokenEncoding(room_relative=True, fourier_bands=2, extents=True, include_rgb=True,
                               confidence=True, wall_gaps=True),
        bridge=BridgeConfig(enabled=True, kind="labels", slots=4, extra_labels=()),
        tokens=TokenConfig(
            mode="segment",
            segments=SegmentConfig(
                max_tokens=24, shell_band_m=0.025, surface_peak_share=0.5, merge_stacked=True, merge_fragments=True,
                drop_ceiling=True, item_clearance_m=0.015, item_voxel_m=0.03, item_min_points=24,
                item_min_rise_m=0.03, item_min_aspect=0.3,
            ),
            crop_views=5,
            name_objects=True,
        ),
        stage1=StageConfig(steps=120, batch_size=8, projector_lr=1e-3, warmup_steps=5, checkpoint_every=20,
                           autocast="bfloat16"),
        stage2=StageConfig(steps=620, batch_size=8, projector_lr=5e-4, llm_lr=1e-3, llm_mode="lora",
                           lora=LoraSettings(rank=8, alpha=16.0), warmup_steps=10, checkpoint_every=40,
                           autocast="bfloat16", balance_types=True, turns=3),
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_toml_presets_equal_the_python_presets_they_replaced(name):
    assert preset(name) == EXPECTED[name]


def test_presets_ship_as_package_data():
    package = Path(lerf3d.__file__).resolve().parent
    assert PRESETS_DIR == package / "configs" / "scene_llm" and preset_names() == ["demo", "gpu", "tiny"]
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    assert "configs/scene_llm/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["lerf3d"]


def test_preset_keeps_top_level_replacements():
    assert preset("tiny", seed=3, max_new_tokens=5) == dataclasses.replace(EXPECTED["tiny"], seed=3, max_new_tokens=5)


def test_unknown_preset_and_bad_file_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown preset 'tinny'.*did you mean tiny.*presets: demo, gpu, tiny"):
        preset("tinny")
    bad = tmp_path / "mine.toml"
    bad.write_text("[stage2]\nsteps = 10\nlr = 1e-3\n")
    with pytest.raises(ConfigError, match=r"mine\.toml: unknown key 'stage2\.lr'; did you mean lora\? valid keys of StageConfig"):
        preset(bad)
    bad.write_text("[stage1]\nllm_mode = 'lora'\n")
    with pytest.raises(ConfigError, match=r"mine\.toml: .*stage1\.llm_mode must be 'frozen'"):
        preset(bad)


def test_a_config_file_starts_from_the_dataclass_defaults(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("seed = 7\n[stage2]\nsteps = 30\nllm_mode = 'full'\nllm_lr = 2e-5\n")
    config = preset(path)
    assert config.seed == 7 and config.stage2 == StageConfig(steps=30, llm_mode="full", llm_lr=2e-5)
    assert config.stage1 == SceneLLMConfig().stage1 and config.tokens == TokenConfig()


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return parser.parse_args(["dataset", "--out", "run", *argv])


def test_shorthand_flags_are_the_overrides_they_name():
    flags = _args("--preset", "tiny", "--llm", "org/model", "--steps1", "3", "--steps2", "5",
                  "--batch-size", "6", "--full")
    sets = _args("--preset", "tiny", "--set", "llm.name=org/model", "--set", "stage1.steps=3",
                 "--set", "stage2.steps=5", "--set", "stage1.batch_size=6", "--set", "stage2.batch_size=6",
                 "--set", "stage2.llm_mode=full")
    config = config_from_args(flags)
    assert config == config_from_args(sets)
    assert (config.llm.name, config.stage1.steps, config.stage2.steps) == ("org/model", 3, 5)
    assert (config.stage1.batch_size, config.stage2.batch_size, config.stage2.llm_mode) == (6, 6, "full")
    assert config.stage2.lora == LoraSettings(rank=4, alpha=8.0)  # the rest is the preset's
    assert config_from_args(_args("--preset", "tiny")) == EXPECTED["tiny"]


def test_set_comes_after_the_flags_and_reaches_nested_keys():
    config = config_from_args(_args("--preset", "demo", "--steps2", "100", "--set", "stage2.steps=20",
                                    "--set", "stage2.lora.rank=2", "--set", "tokens.segments.max_tokens=12"))
    assert config.stage2.steps == 20 and config.stage2.lora.rank == 2 and config.tokens.segments.max_tokens == 12


def test_a_switch_and_the_setting_it_needs_apply_in_either_order():
    # wall_links needs identifiers and encoding.wall_gaps: given first it waits for the other; a
    # rule no override meets still fails naming the override, and later still wins
    tiny = preset("tiny")
    for items in (["identifiers=true", "wall_links=true", "encoding.wall_gaps=true"],
                  ["encoding.wall_gaps=true", "wall_links=true", "identifiers=true"]):
        config = apply_overrides(tiny, items)
        assert config.wall_links and config.identifiers and config.encoding.wall_gaps
    with pytest.raises(ConfigError, match=r"override wall_links=true: wall_links follow"):
        apply_overrides(tiny, ["wall_links=true", "identifiers=true"])
    config = apply_overrides(tiny, ["wall_links=true", "encoding.wall_gaps=true", "identifiers=true",
                                    "wall_links=false"])
    assert not config.wall_links and config.encoding.wall_gaps
    with pytest.raises(ConfigError, match="unknown key"):  # not a rule between settings: fails at once
        apply_overrides(tiny, ["wall_linkz=true", "identifiers=true"])


def test_model_names_that_read_as_numbers_stay_names():
    assert shorthand_overrides(llm="1e3") == ['llm.name="1e3"']
    assert apply_overrides(preset("tiny"), shorthand_overrides(llm="true")).llm.name == "true"


def test_config_file_replaces_the_preset_and_excludes_it(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text("[stage1]\nsteps = 9\n")
    assert config_from_args(_args("--config", str(path))).stage1.steps == 9
    with pytest.raises(SystemExit) as info:
        _args("--preset", "tiny", "--config", str(path))
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("stage2.stepz=3", r"unknown key 'stepz'; did you mean steps"),
        ("stage2.steps", r"must look like key=value"),
        ("stage2.steps=many", r"stage2.steps must be an integer, got 'many'"),
        ("stage1.llm_mode=lora", r"stage1.llm_mode must be 'frozen'"),
    ],
)
def test_bad_overrides_are_named(item, message):
    with pytest.raises(ConfigError, match=message):
        config_from_args(_args("--preset", "tiny", "--set", item))


def test_gpu_preset_scales_the_demo_recipe():
    gpu, demo = preset("gpu"), preset("demo")
    assert gpu.identifiers and gpu.encoding == demo.encoding and gpu.bridge == demo.bridge
    assert gpu.tokens.crop_views == demo.tokens.crop_views and gpu.position_digits == demo.position_digits
    assert gpu.grounded_answers == demo.grounded_answers and gpu.max_new_tokens == demo.max_new_tokens
    assert (gpu.neighbour_links, gpu.neighbour_names, gpu.grounded_links, gpu.wall_links) == (
        demo.neighbour_links, demo.neighbour_names, demo.grounded_links, demo.wall_links)
    assert (gpu.census, gpu.count_first, gpu.drop_ungrounded_lists) == (demo.census, demo.count_first,
                                                                      demo.drop_ungrounded_lists)
    assert gpu.tokens.name_objects == demo.tokens.name_objects
    assert gpu.tokens.segments == dataclasses.replace(demo.tokens.segments, max_tokens=48)
    assert gpu.stage1.autocast == demo.stage1.autocast and gpu.stage2.autocast == demo.stage2.autocast
    assert gpu.stage2.batch_size == 4 * demo.stage2.batch_size and gpu.stage2.steps == 4 * demo.stage2.steps


def test_demo_tokens_are_segmented_as_the_object_layer_segments():
    """The preset's segmentation is the object layer's, so the tokens it names as objects are the
    object layer's objects: one rule for both, up to the token budget."""
    from lerf3d.objects.build import ObjectsConfig

    for name in ("demo", "gpu"):
        segments = preset(name).tokens.segments
        assert dataclasses.replace(segments, max_tokens=ObjectsConfig().segment.max_tokens) == ObjectsConfig().segment


def test_a_run_needs_its_object_names_when_it_reads_tokens_by_them():
    """A census counts the run's object names and named tokens are named by them: either makes
    ``vocabulary.json`` a file the run cannot answer without (what the loader and the viewer refuse on)."""
    tiny = preset("tiny")
    labels = BridgeConfig(enabled=True, kind="labels")
    assert not tiny.needs_vocabulary
    assert dataclasses.replace(tiny, bridge=labels, census=True).needs_vocabulary
    named = TokenConfig(mode="segment", crop_views=2, name_objects=True)
    assert dataclasses.replace(tiny, tokens=named).needs_vocabulary
    assert preset("demo").needs_vocabulary


def test_cuda_without_a_gpu_is_refused():
    from lerf3d.scene_llm.train.loop import training_device

    assert training_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert training_device("auto").type == "cpu"
        with pytest.raises(ValueError, match="no CUDA device"):
            training_device("cuda")


def test_every_switch_rule_names_a_switch_off_by_default_and_known_requirements():
    fields = {f.name: f for f in dataclasses.fields(SceneLLMConfig)}
    for rule in SWITCH_RULES:
        assert fields[rule.switch].type in ("bool", "int") and not fields[rule.switch].default, rule.switch
        assert rule.needs and set(rule.needs) <= set(REQUIREMENTS), rule.switch


def test_a_switch_without_what_it_needs_is_refused_naming_both():
    tiny = preset("tiny")
    with pytest.raises(ValueError, match=r"^census counts the label bridge's names: set bridge\.enabled with kind = 'labels'$"):
        dataclasses.replace(tiny, census=True, bridge=dataclasses.replace(tiny.bridge, enabled=False))
    with pytest.raises(ValueError, match=r"^grounded_links .*: set grounded_answers = true and neighbour_links = true$"):
        dataclasses.replace(tiny, grounded_links=True, grounded_answers=False)
