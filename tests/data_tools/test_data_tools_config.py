"""Room presets as TOML data: the same values as the Python presets they replaced, package data,
files in the same form, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

import data_tools
from data_tools.config import PRESETS_DIR, RoomConfig, preset_names
from lerf3d.typed_config import ConfigError

# The presets as they were written in Python before they became TOML files (spelled out here, not
# read from the files, so that a changed value in a file fails this test).
EXPECTED = {
    "tiny": RoomConfig(num_objects=4, num_tabletop=1, num_views=12, width=96, height=72),
    "demo": RoomConfig(num_objects=8, num_tabletop=3, num_views=40, width=320, height=240),
    "large": RoomConfig(num_objects=14, num_tabletop=5, num_views=120, width=320, height=240),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_toml_presets_equal_the_python_presets_they_replaced(name):
    assert RoomConfig.preset(name) == EXPECTED[name]
    assert RoomConfig.preset(name, seed=5, room="office").seed == 5


def test_presets_ship_as_package_data():
    package = Path(data_tools.__file__).resolve().parent
    assert PRESETS_DIR == package / "configs" and preset_names() == ["demo", "large", "tiny"]
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    assert "configs/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["data_tools"]


def test_a_room_file_in_the_presets_form(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('num_views = 3\ncamera_height_range = [1.0, 1.2]\ncache_dir = "models"\nroom = "bathroom"\n')
    config = RoomConfig.preset(path, seed=2)
    assert config == RoomConfig(seed=2, num_views=3, camera_height_range=(1.0, 1.2), cache_dir=Path("models"),
                                room="bathroom")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("num_view = 3", r"mine\.toml: unknown key 'num_view'; did you mean num_views\?"),
        ("num_views = 0", r"mine\.toml: \[RoomConfig\] num_views must be >= 1, got 0"),
        ("width = 9.5", r"mine\.toml: width must be an integer, got 9.5"),
        ("cache_dir = 3", r"mine\.toml: cache_dir must be a path \(a non-empty string\), got 3"),
        ("room = 'garage'", r"mine\.toml: \[RoomConfig\] .*garage"),
    ],
)
def test_bad_room_files_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        RoomConfig.preset(path)


def test_unknown_names_and_fields():
    with pytest.raises(ValueError, match=r"unknown preset 'huge'; presets: demo, large, tiny"):
        RoomConfig.preset("huge")
    with pytest.raises(ValueError, match=r"RoomConfig has no field\(s\) \['views'\]"):
        RoomConfig.preset("tiny", views=3)
