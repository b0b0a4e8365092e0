"""Typed configs from plain data: nested mappings (TOML, a checkpoint's stored config) -> frozen
config dataclasses, ``key=value`` overrides, and back to plain data.

Tables are nested config dataclasses (``[field.radiance.grid]``), arrays of tables are tuples of
them (``[[field.language.grids]]``), and ``"none"`` stands for None where a field is optional (TOML
has no null). Unknown keys and wrong types are errors naming the source and the dotted key, with
the closest valid names, because a typo silently falling back to a default is the failure that
costs a user a day of training. Any layer may read a config with it: field training
(:mod:`lerf3d.train.presets`, ``configs/*.toml``), the Scene LLM (``configs/scene_llm/*.toml``), the
room generator (``data_tools/configs/*.toml``) and a run's recorded config.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import tomllib

T = TypeVar("T")

CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
"""lerf3d's presets folder, shipped inside the package (``configs/`` at the repository root links to
it) so that a non-editable install finds them too: field training's presets at its top, the Scene
LLM's in ``scene_llm/``."""

NONE_VALUE = "none"
"""How a TOML file writes None for an optional field."""


class ConfigError(ValueError):
    """A preset or override that does not fit the config tree; the message names file and key."""


class ConstraintError(ConfigError):
    """An override whose value fits its key but breaks a rule between settings (a dataclass's
    ``__post_init__``): another override may still make it valid."""


def load_toml_config(cls: type[T], path: Path) -> T:
    """Read ``path`` into ``cls`` (a config dataclass), starting from its defaults."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from err
    return from_mapping(cls, data, source=str(path))


def preset_names(configs_dir: Path) -> list[str]:
    """Names of the presets (``<name>.toml``) in ``configs_dir``."""
    return sorted(p.stem for p in Path(configs_dir).glob("*.toml"))


def preset_path(name_or_path: str | Path, configs_dir: Path) -> Path:
    """The TOML file of a preset name (``tiny``: ``configs_dir/tiny.toml``) or an explicit ``.toml`` path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        if not candidate.is_file():
            raise ConfigError(f"config file {candidate} does not exist")
        return candidate
    path = Path(configs_dir) / f"{name_or_path}.toml"
    if not path.is_file():
        names = preset_names(configs_dir)
        close = difflib.get_close_matches(str(name_or_path), names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown preset {str(name_or_path)!r}{hint}; presets: {', '.join(names)} or a .toml path")
    return path


def load_preset(cls: type[T], name_or_path: str | Path, configs_dir: Path) -> T:
    """``cls`` read from a preset of ``configs_dir`` or a ``.toml`` path (see :func:`preset_path`)."""
    return load_toml_config(cls, preset_path(name_or_path, configs_dir))


def from_mapping(cls: type[T], data: Mapping[str, Any], source: str = "config", prefix: str = "") -> T:
    """Build dataclass ``cls`` from a nested mapping: missing keys keep their defaults.

    Validation errors raised by a dataclass's ``__post_init__`` are re-raised as ConfigError with the
    source and the dotted path of the table in front.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: [{prefix or 'top level'}] must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    values = {}
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ConfigError(
                f"{source}: unknown key {_dotted(prefix, key)!r}; {hint}valid keys of {cls.__name__}: {', '.join(known)}"
            )
        values[key] = _convert(hints[key], value, source, _dotted(prefix, key))
    try:
        return cls(**values)
    except ValueError as err:
        raise ConfigError(f"{source}: [{prefix or cls.__name__}] {err}") from err


def apply_override(config: T, dotted_key: str, value_text: str) -> T:
    """``config`` with one value replaced: ``apply_override(c, "optim.radiance.lr", "5e-3")``.

    The value is parsed as a TOML value (numbers, booleans, strings in quotes, arrays); a bare word
    that is not valid TOML is taken as a string, so ``data.sampler=depth`` works without quotes.
    """
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text
    return _override(config, dotted_key.split("."), value, f"{dotted_key}={value_text}")


def _override(config: T, keys: list[str], value: Any, item: str) -> T:
    """``config`` with the field at path ``keys`` set to ``value``; errors name the whole ``item``."""
    head, rest = keys[0], keys[1:]
    known = {f.name for f in dataclasses.fields(config) if f.init}
    if head not in known:
        close = difflib.get_close_matches(head, list(known), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(f"override {item}: unknown key {head!r}; {hint}valid keys: {', '.join(known)}")
    current = getattr(config, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"override {item}: {head!r} is not a table")
        new = _override(current, rest, value, item)
    else:
        new = _convert(typing.get_type_hints(type(config))[head], value, "override", item.partition("=")[0])
    try:
        return dataclasses.replace(config, **{head: new})
    except ConstraintError:
        raise
    except ValueError as err:
        raise ConstraintError(f"override {item}: {err}") from err


def apply_overrides(config: T, items: Iterable[str]) -> T:
    """``config`` with each ``key=value`` of ``items`` applied in order (``--set`` on a command line),
    later ones winning. An override that breaks a rule between settings waits for the others (``--set
    wall_links=true --set encoding.wall_gaps=true`` in either order); one that no other makes valid
    fails with its own message, and one that a later override of the same key replaces is dropped."""
    parsed = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} must look like key=value (e.g. stage2.steps=100)")
        parsed.append((key.strip(), value.strip()))
    pending = [(key, value, {k for k, _ in parsed[i + 1:]}) for i, (key, value) in enumerate(parsed)]
    while pending:
        waiting, first = [], None
        for key, value, later in pending:
            try:
                config = apply_override(config, key, value)
            except ConstraintError as err:
                if key not in later:
                    waiting.append((key, value, later))
                    first = first or err
        if first is not None and len(waiting) == len(pending):
            raise first
        pending = waiting
    return config


def to_plain(config: Any) -> Any:
    """A config as plain data (dicts, lists, numbers, strings): what checkpoints store."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: to_plain(getattr(config, f.name)) for f in dataclasses.fields(config) if f.init}
    if isinstance(config, (list, tuple)):
        return [to_plain(v) for v in config]
    if isinstance(config, Path):
        return str(config)
    return config


def _dotted(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _convert(hint: Any, value: Any, source: str, key: str) -> Any:
    """``value`` checked against (and coerced to) the annotation ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None or (type(None) in args and isinstance(value, str) and value.lower() == NONE_VALUE):
            if type(None) not in args:
                raise ConfigError(f"{source}: {key} may not be none")
            return None
        errors = []
        for option in options:
            try:
                return _convert(option, value, source, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{source}: {key}: no type of {hint} fits {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: {key} must be one of {list(args)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {key} must be an array, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{source}: {key} must have {len(args)} entries, got {len(value)}")
        return tuple(_convert(a, v, source, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, source, key)
    return _convert_scalar(hint, value, source, key)


def _convert_scalar(hint: Any, value: Any, source: str, key: str) -> Any:
    # bool is an int subclass: reject it for numbers, and numbers for bools, explicitly.
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string, got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, (str, Path)) or not str(value):
            raise ConfigError(f"{source}: {key} must be a path (a non-empty string), got {value!r}")
        return Path(value)
    raise ConfigError(f"{source}: {key}: unsupported config type {hint!r}")
