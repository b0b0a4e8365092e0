"""Fixtures of the query tests (helpers live in query_helpers.py, importable by name)."""

from __future__ import annotations

import pytest
from query_helpers import HashTextEncoder, make_field

from lerf3d.field import LerfField


@pytest.fixture
def encoder() -> HashTextEncoder:
    return HashTextEncoder()


@pytest.fixture
def field() -> LerfField:
    return make_field()
