"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for end-to-end runs: the test machine's cores are shared with other jobs
    (tests/train/conftest.py says why)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
