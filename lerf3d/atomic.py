"""Atomic file writes: outputs appear complete under their final name or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The temporary name keeps the suffix so that writers choosing a format by extension still work.
    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temporary(path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty folder beside ``path``; on success it replaces ``path`` (and what it held).

    The old folder is renamed aside before the new one is renamed into place and only then removed,
    so ``path`` is at every moment either the old complete folder or the new one (a crash between the
    two renames leaves the old one under its hidden ``.<name>.*.old`` name, never a half-written
    folder). On an exception the new folder is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = _create_temporary(path, folder=True)
    try:
        yield tmp_dir
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.{secrets.token_hex(4)}.old")
            os.rename(path, old)
        os.rename(tmp_dir, path)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir)


def _create_temporary(path: Path, folder: bool = False) -> Path:
    """An empty new file (``folder``: folder) beside ``path``, created with mode 0666 (0777) so the
    umask decides (0644 / 0755 under umask 022), as for anything a program writes;
    ``tempfile.mkstemp`` and ``mkdtemp`` would force 0600 / 0700 and leave exports unreadable to other
    users and to web servers."""
    for _ in range(100):
        candidate = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            if folder:
                os.mkdir(candidate, 0o777)
            else:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{path.parent}: could not create a temporary {'folder' if folder else 'file'} "
                          f"for {path.name}")


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically; returns the final path."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
    return Path(path)
