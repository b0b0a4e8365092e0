"""Shared fixtures: one tiny generated room per test session (generation takes a few seconds)."""

from __future__ import annotations

import pytest

from data_tools.config import RoomConfig
from data_tools.make_room import GeneratedRoom, generate_room


@pytest.fixture(scope="session")
def tiny_config() -> RoomConfig:
    """The tiny preset; the converted-model cache is the default one, shared between runs."""
    return RoomConfig.preset("tiny", seed=3)


@pytest.fixture(scope="session")
def tiny_room(tmp_path_factory, tiny_config) -> GeneratedRoom:
    """A tiny room rendered once for the session."""
    return generate_room(tiny_config, tmp_path_factory.mktemp("tiny_room"))
