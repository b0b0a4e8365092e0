"""Shared fixtures for the encoder tests: offline hubs, random images, devices."""

from __future__ import annotations

import os

# Tests never touch the network; set before transformers / huggingface_hub read their settings.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

NEEDS_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture
def images() -> torch.Tensor:
    """Two deterministic non-square images in [0, 1]."""
    return torch.rand(2, 3, 40, 56, generator=torch.Generator().manual_seed(0))


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=NEEDS_CUDA)])
def device(request) -> str:
    """Every device test runs on the CPU, and on a GPU when there is one."""
    return request.param
