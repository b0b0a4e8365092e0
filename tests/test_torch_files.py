"""Tensor files read with errors that name them."""

from __future__ import annotations

import pytest
import torch

from lerf3d.torch_files import UnreadableFileError, load_torch_file


def test_a_saved_file_reads_back(tmp_path):
    torch.save({"w": torch.arange(3)}, tmp_path / "a.pt")
    assert torch.equal(load_torch_file(tmp_path / "a.pt", "weights")["w"], torch.arange(3))


def test_missing_damaged_and_foreign_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no projector checkpoint at .*missing\.pt"):
        load_torch_file(tmp_path / "missing.pt", "projector checkpoint")
    (tmp_path / "text.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UnreadableFileError, match=r"text\.pt: unreadable projector checkpoint \(.*operand"):
        load_torch_file(tmp_path / "text.pt", "projector checkpoint")
    torch.save({"w": torch.zeros(1000)}, tmp_path / "whole.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:600])  # a copy cut short
    with pytest.raises(UnreadableFileError, match=r"cut\.pt: unreadable scene features"):
        load_torch_file(tmp_path / "cut.pt", "scene features")
    torch.save({"code": print}, tmp_path / "pickle.pt")  # not tensors: refused, not executed
    with pytest.raises(UnreadableFileError, match=r"pickle\.pt: unreadable LoRA adapter file \(.*print"):
        load_torch_file(tmp_path / "pickle.pt", "LoRA adapter file")
    assert issubclass(UnreadableFileError, ValueError)  # callers that caught ValueError still do
