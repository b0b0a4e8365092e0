"""Training presets as data: ``configs/<name>.toml`` read with tomllib into the typed config tree.

A TOML file sets only what differs from the dataclass defaults; :mod:`lerf3d.typed_config` reads
it (and a checkpoint's stored config) into the typed tree.
"""

from __future__ import annotations

from pathlib import Path

from lerf3d import typed_config
from lerf3d.typed_config import CONFIGS_DIR


def preset_names(configs_dir: Path = CONFIGS_DIR) -> list[str]:
    """Names of the presets shipped in ``configs_dir``."""
    return typed_config.preset_names(configs_dir)


def preset_path(name_or_path: str | Path, configs_dir: Path = CONFIGS_DIR) -> Path:
    """The TOML file of a preset name (``tiny``) or an explicit path to a ``.toml`` file."""
    return typed_config.preset_path(name_or_path, configs_dir)
