"""Tower-training run presets: the TOML files, ``--preset`` / ``--config`` / ``--set``, and their errors.

The expected values are written out here by hand: they are the run sizes the packaged weights
were trained with (``lerf3d/weights/MODEL_CARD.md``) and the tiny end-to-end check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
import torch

import data_tools
from data_tools.config import RoomConfig
from data_tools.dino_train import DinoConfig
from data_tools.lit_train import LitConfig
from data_tools.tower_card import _rooms_line
from data_tools.tower_config import PRESETS_DIR, ROOM_SETS, load_config, preset_names
from data_tools.tower_data import CropSamplingConfig, EvalSamplingConfig
from data_tools.train_towers import build_parser, config_from_args, main
from lerf3d.typed_config import ConfigError

# (set, room preset, seeds, RoomConfig fields replaced) of each preset, as the rooms were made
ROOMS = {
    "default": (
        ("train_rooms", "large", range(0, 150), {"num_views": 24, "model_split": "all"}),
        ("eval_rooms", "large", range(1000, 1030), {"num_views": 16, "model_split": "all"}),
    ),
    "tiny": (
        ("train_rooms", "tiny", range(0, 2), {"num_views": 6, "width": 128, "height": 96, "model_split": "train"}),
        ("eval_rooms", "tiny", range(1000, 1001), {"num_views": 6, "width": 128, "height": 96, "model_split": "train"}),
        ("held_out_rooms", "tiny", range(2000, 2001),
         {"num_views": 6, "width": 128, "height": 96, "model_split": "held-out", "num_tabletop": 0}),
    ),
}

OTHER_FIELDS = {
    "default": {
        "crops": CropSamplingConfig(object_windows=12),
        "eval_crops": EvalSamplingConfig(),
        "dino_view_size": (120, 160),
        "dino": DinoConfig(steps=150, batch_size=32),
        "lit": LitConfig(steps=14000),
        "dense_eval_views": 24,
        "weights_dtype": "float16",
    },
    "tiny": {
        "crops": CropSamplingConfig(object_windows=12),
        "eval_crops": EvalSamplingConfig(per_label_level_room=2),
        "dino_view_size": (120, 160),
        "dino": DinoConfig(steps=6, batch_size=4, num_local=2, out_dim=256, hidden_dim=64, bottleneck_dim=32),
        "lit": LitConfig(steps=30, batch_size=16, lr=3e-3, warmup_fraction=0.1),
        "dense_eval_views": 2,
        "weights_dtype": "float16",
    },
}


def test_presets_ship_as_package_data() -> None:
    package = Path(data_tools.__file__).resolve().parent
    assert PRESETS_DIR == package / "configs" / "towers" and preset_names() == ["catalogues", "default", "gpu", "tiny"]
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    assert "configs/towers/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["data_tools"]


@pytest.mark.parametrize("name", ["default", "tiny"])
def test_preset_rooms_are_the_rooms_the_weights_were_trained_on(name: str) -> None:
    config = load_config(name)
    for set_name, room_preset, seeds, replaced in ROOMS[name]:
        rooms = getattr(config, set_name)
        assert rooms.preset == room_preset, set_name
        assert rooms.seeds == tuple(seeds), set_name
        made = [rooms.room_config(s) for s in rooms.seeds]
        assert made == [RoomConfig.preset(room_preset, seed=s, **replaced) for s in seeds], set_name


@pytest.mark.parametrize("name", ["default", "tiny"])
def test_preset_training_settings(name: str) -> None:
    config = load_config(name)
    for key, expected in OTHER_FIELDS[name].items():
        assert getattr(config, key) == expected, key


def test_catalogues_preset_draws_every_set_from_all_catalogues_on_seeds_of_its_own() -> None:
    config = load_config("catalogues")
    assert config.catalogues == "all" and config.lit.attribute_weight > 0
    default = load_config("default")
    used = {s for name in ROOM_SETS for s in getattr(default, name).seeds}
    for name in ROOM_SETS:
        rooms = config.room_set(name)
        assert not used & set(rooms.seeds), name
        made = rooms.room_config(rooms.first_seed)
        assert made.catalogues == "all" and made.model_split == ("held-out" if name == "held_out_rooms" else "train")


def test_gpu_preset_scales_the_catalogues_recipe_and_keeps_its_evaluation() -> None:
    gpu, cpu = load_config("gpu"), load_config("catalogues")
    assert gpu.catalogues == cpu.catalogues and gpu.crops == cpu.crops
    assert (gpu.eval_rooms, gpu.held_out_rooms) == (cpu.eval_rooms, cpu.held_out_rooms)  # the cards compare
    assert gpu.train_rooms.count == 4 * cpu.train_rooms.count
    assert gpu.train_rooms.overrides == cpu.train_rooms.overrides
    default = load_config("default")
    others = {s for config in (cpu, default) for name in ROOM_SETS for s in getattr(config, name).seeds}
    assert not others & set(gpu.train_rooms.seeds)
    assert gpu.lit.batch_size > cpu.lit.batch_size and gpu.dino.batch_size > cpu.dino.batch_size
    epochs = gpu.lit.steps * gpu.lit.batch_size / gpu.train_rooms.count
    assert epochs >= cpu.lit.steps * cpu.lit.batch_size / cpu.train_rooms.count
    # the recipe's losses are the catalogues' ones
    assert (gpu.lit.attribute_weight, gpu.lit.text_to_image_weight) == (cpu.lit.attribute_weight, cpu.lit.text_to_image_weight)
    assert (gpu.dino.instance_weight, gpu.dino.instance_temp, gpu.dino.momentum) == (
        cpu.dino.instance_weight, cpu.dino.instance_temp, cpu.dino.momentum)


def test_default_preset_rooms_line_of_the_model_card() -> None:
    config = load_config("default")
    assert _rooms_line("training", config.train_rooms) == "| training | 150 | 0-149 | `large` (model_split=all, num_views=24) |"
    assert _rooms_line("held-out models", config.held_out_rooms) == "| held-out models | 0 | - | none |"


def test_set_overrides_apply_in_order_on_the_preset() -> None:
    args = build_parser().parse_args(["--preset", "tiny", "--set", "lit.steps=5", "--set", "train_rooms.count=3"])
    config = config_from_args(args)
    assert config.lit == LitConfig(steps=5, batch_size=16, lr=3e-3, warmup_fraction=0.1)
    assert config.train_rooms.seeds == (0, 1, 2)
    assert config.dino.steps == 6  # the rest stays the preset's


def test_config_file_in_the_presets_form(tmp_path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        "[train_rooms]\npreset = \"tiny\"\nfirst_seed = 10\ncount = 3\noverrides = [\"num_views=2\"]\n"
        "[eval_rooms]\npreset = \"tiny\"\nfirst_seed = 20\ncount = 1\n"
        "[held_out_rooms]\npreset = \"tiny\"\nfirst_seed = 30\ncount = 1\n"
        "[lit]\nsteps = 7\n"
    )
    config = config_from_args(build_parser().parse_args(["--config", str(path), "--set", "dino.steps=4"]))
    assert config.train_rooms.seeds == (10, 11, 12)
    assert config.train_rooms.room_config(11) == RoomConfig.preset("tiny", seed=11, num_views=2)
    assert (config.lit.steps, config.dino.steps, config.crops.object_windows) == (7, 4, 6)  # 6: the class default


def test_unknown_key_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'stpes'; did you mean steps\?"):
        load_config("tiny", ["lit.stpes=5"])
    with pytest.raises(ConfigError, match="lit.steps must be an integer, got 'many'"):
        load_config("tiny", ["lit.steps=many"])


def test_unknown_room_override_is_an_error_naming_it(tmp_path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text("[train_rooms]\ncount = 1\noverrides = [\"num_veiws=3\"]\n")
    with pytest.raises(ConfigError, match=r"typo.toml: \[train_rooms\] .*unknown key 'num_veiws'; did you mean num_views"):
        load_config(path)


def test_command_line_errors_are_one_line_and_exit_2(tmp_path, capsys) -> None:
    assert main(["--preset", "tinyy", "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown preset 'tinyy' (did you mean tiny?)") and err.count("\n") == 1
    assert main(["--preset", "tiny", "--set", "lit.stpes=5", "--out", str(tmp_path / "w")]) == 2
    assert "unknown key 'stpes'" in capsys.readouterr().err
    assert main(["--preset", "tiny", "--set", "eval_rooms.count=0", "--out", str(tmp_path / "w")]) == 2
    assert capsys.readouterr().err == "error: eval_rooms.count must be >= 1 for a run (set it in the preset or with --set eval_rooms.count=N)\n"
    assert config_from_args(build_parser().parse_args(["--set", "held_out_rooms.count=0"])).held_out_rooms.count == 0
    assert main(["--preset", "tiny", "--set", "eval_rooms.first_seed=1", "--out", str(tmp_path / "w")]) == 2
    assert "room seeds [1] are in two room sets" in capsys.readouterr().err
    for device in ("banana", "mps"):
        with pytest.raises(SystemExit) as exit_info:
            main(["--preset", "tiny", "--device", device, "--out", str(tmp_path / "w")])
        assert exit_info.value.code == 2 and f"invalid choice: '{device}'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["--preset", "tiny", "--device", "cuda", "--out", str(tmp_path / "w")]) == 2
        assert capsys.readouterr().err == "error: --device cuda: torch sees no CUDA device (use --device cpu or auto)\n"
    assert not (tmp_path / "w").exists()  # nothing written before the config is valid


def test_preset_and_config_file_are_exclusive(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--preset", "tiny", "--config", "x.toml"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_catalogues_reach_every_room_set_and_only_there() -> None:
    config = load_config("tiny", ["catalogues=all"])
    for name in ROOM_SETS:
        rooms = config.room_set(name)
        assert rooms.room_config(rooms.first_seed).catalogues == "all", name
        assert getattr(config, name).room_config(rooms.first_seed).catalogues == ""  # the preset's own set
    plain = load_config("tiny")
    assert all(plain.room_set(n) == getattr(plain, n) for n in ROOM_SETS)  # no catalogues: rooms as before


def test_catalogues_are_named_once_and_checked() -> None:
    with pytest.raises(ValueError, match="unknown catalogue"):
        load_config("tiny", ["catalogues=Ikea"])
    with pytest.raises(ValueError, match=r"eval_rooms.overrides sets catalogues; set the run's catalogues"):
        load_config("tiny", ['eval_rooms.overrides=["catalogues=all"]'])
