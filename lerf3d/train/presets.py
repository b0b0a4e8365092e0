"""Training presets as data: ``configs/<name>.toml`` read with tomllib into the typed config tree.

A TOML file sets only what differs from the dataclass defaults; :mod:`lerf3d.typed_config` reads
it (and a checkpoint's stored config) into the typed tree.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from lerf3d.typed_config import ConfigError

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
"""The presets folder, shipped inside the package (``configs/`` at the repository root links to it)
so that a non-editable install finds them too."""


def preset_names(configs_dir: Path = CONFIGS_DIR) -> list[str]:
    """Names of the presets shipped in ``configs_dir``."""
    return sorted(p.stem for p in configs_dir.glob("*.toml"))


def preset_path(name_or_path: str | Path, configs_dir: Path = CONFIGS_DIR) -> Path:
    """The TOML file of a preset name (``tiny``) or an explicit path to a ``.toml`` file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        if not candidate.is_file():
            raise ConfigError(f"config file {candidate} does not exist")
        return candidate
    path = configs_dir / f"{name_or_path}.toml"
    if not path.is_file():
        names = preset_names(configs_dir)
        close = difflib.get_close_matches(str(name_or_path), names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown preset {str(name_or_path)!r}{hint}; presets: {', '.join(names)} or a .toml path")
    return path
