"""Checks before work: output paths a command can create, positive counts and sizes."""

from __future__ import annotations

import argparse
import os

import pytest

from lerf3d.preflight import check_output_path, positive_float_arg, positive_int_arg


def test_output_paths_below_a_file_or_of_the_wrong_kind_are_refused(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a regular file")
    assert check_output_path(tmp_path / "new" / "deeper" / "run", folder=True) == tmp_path / "new" / "deeper" / "run"
    assert check_output_path(tmp_path / "report.json") == tmp_path / "report.json"
    with pytest.raises(ValueError, match=rf"--out {blocker}/run/x: {blocker} is a file, so no folder can be made"):
        check_output_path(blocker / "run" / "x", folder=True)
    with pytest.raises(ValueError, match=rf"--gt-out {blocker}/a\.json: {blocker} is a file"):
        check_output_path(blocker / "a.json", "--gt-out")
    with pytest.raises(ValueError, match=rf"--out {blocker}: is a file, not a folder"):
        check_output_path(blocker, folder=True)
    with pytest.raises(ValueError, match=rf"--out {tmp_path}: is a folder, not a file"):
        check_output_path(tmp_path)
    assert not (tmp_path / "new").exists()  # checking creates nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(ValueError, match=rf"{locked} is not writable"):
        check_output_path(locked / "run", folder=True)


def test_counts_and_rates_must_be_positive():
    assert positive_int_arg("3") == 3 and positive_float_arg("0.5") == 0.5
    for text in ("0", "-1", "1.5", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
            positive_int_arg(text)
    for text in ("0", "-2", "nan", "inf", "fast"):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
            positive_float_arg(text)
