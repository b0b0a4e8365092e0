"""Atomic writes: a folder replaced whole or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from lerf3d.atomic import atomic_dir


def test_a_folder_is_replaced_whole_once_written(tmp_path):
    out = tmp_path / "ship"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with atomic_dir(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".ship.") and not out.samefile(tmp)
        (tmp / "new.txt").write_text("new")
        assert (out / "stale.txt").read_text() == "old"  # the old folder stands until the end
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ship"]  # no temporary or old folder left


def test_a_failed_write_leaves_the_old_folder_as_it_was(tmp_path):
    out = tmp_path / "ship"
    out.mkdir()
    (out / "kept.txt").write_text("old")
    with pytest.raises(RuntimeError, match="half way"), atomic_dir(out) as tmp:
        (tmp / "partial.txt").write_text("half")
        raise RuntimeError("half way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ship"]
    assert sorted(p.name for p in out.iterdir()) == ["kept.txt"]
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "new" / "ship"):
        raise RuntimeError("never written")
    assert list((tmp_path / "new").iterdir()) == []  # a folder that did not exist is not created


def test_the_new_folder_takes_the_umask_not_a_private_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "ship") as tmp:
            (tmp / "a.txt").write_text("a")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "ship").stat().st_mode) == 0o755
