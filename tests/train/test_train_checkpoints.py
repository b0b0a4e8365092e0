"""Checkpoint files: atomic writes, the latest pointer, pruning, RNG states, unreadable files."""

from __future__ import annotations

import errno
import os
import random

import numpy as np
import pytest
import torch

from lerf3d.runs.checkpoint_file import (
    LATEST_NAME,
    Checkpoint,
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from lerf3d.train.checkpoints import capture_rng_states, restore_rng_states


def _checkpoint(step: int) -> Checkpoint:
    model = {"w": torch.full((3,), float(step))}
    return Checkpoint(step, {"steps": 10}, model, {"optimisers": {}, "schedulers": {}}, capture_rng_states({}))


def test_save_points_latest_at_the_new_file_and_prunes(tmp_path):
    for step in (1, 2, 3, 4):
        path = save_checkpoint(_checkpoint(step), tmp_path, keep=2)
    assert path.name == "step-000004.ckpt"
    assert (tmp_path / LATEST_NAME).read_text().strip() == "step-000004.ckpt"
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000003.ckpt", "step-000004.ckpt"]
    loaded = load_checkpoint(latest_checkpoint(tmp_path))
    assert loaded.step == 4 and torch.equal(loaded.model["w"], torch.full((3,), 4.0))


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(_checkpoint(1), tmp_path)
    real_save = torch.save

    def crash_halfway(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a checkpoint")  # some bytes reach the temporary file
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", crash_halfway)
    with pytest.raises(CheckpointError, match=r"could not write checkpoint .*step-000002\.ckpt \(No space left "
                       r"on device\); .*step-000001\.ckpt is intact"):
        save_checkpoint(_checkpoint(2), tmp_path)
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST_NAME, "step-000001.ckpt"]  # no temporaries
    assert load_checkpoint(latest_checkpoint(tmp_path)).step == 1


def test_latest_falls_back_to_the_highest_step(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    save_checkpoint(_checkpoint(5), tmp_path)
    save_checkpoint(_checkpoint(7), tmp_path)
    (tmp_path / LATEST_NAME).write_text("step-000099.ckpt\n")  # dangling pointer
    assert latest_checkpoint(tmp_path).name == "step-000007.ckpt"


def test_unreadable_or_foreign_files_are_refused(tmp_path):
    (tmp_path / "step-000001.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / "step-000001.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a lerf3d training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_a_tagged_checkpoint_with_missing_or_mistyped_fields_is_refused(tmp_path):
    path = save_checkpoint(_checkpoint(1), tmp_path)
    payload = torch.load(path, weights_only=True)
    for broken, problem in (({k: v for k, v in payload.items() if k != "model"}, r"it has no \['model'\]"),
                            ({**payload, "step": "1"}, "step is a str, expected a int"),
                            ({**payload, "model": {"w": [1.0]}}, r"model entries \['w'\] are no tensors"),
                            ({**payload, "rng": {"torch": payload["rng"]["torch"]}}, "rng lacks"),
                            ({**payload, "extra": 1}, r"fields \['extra'\] are unknown")):
        torch.save(broken, path)
        with pytest.raises(CheckpointError, match=rf"step-000001\.ckpt: .*{problem}"):
            load_checkpoint(path)


def test_rng_states_round_trip_through_a_file(tmp_path):
    generator = torch.Generator().manual_seed(3)
    torch.manual_seed(1), np.random.seed(2), random.seed(4)
    state = capture_rng_states({"sampler": generator})
    save_checkpoint(Checkpoint(1, {}, {}, {}, state), tmp_path)
    expected = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(3, generator=generator))
    torch.manual_seed(9), np.random.seed(9), random.seed(9), generator.manual_seed(9)
    restore_rng_states(load_checkpoint(latest_checkpoint(tmp_path)).rng, {"sampler": generator})
    again = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(3, generator=generator))
    torch.testing.assert_close(again[0], expected[0])
    np.testing.assert_array_equal(again[1], expected[1])
    assert again[2] == expected[2]
    torch.testing.assert_close(again[3], expected[3])
    with pytest.raises(CheckpointError, match="no state for generator"):
        restore_rng_states(state, {"sampler": generator, "render": torch.Generator()})
