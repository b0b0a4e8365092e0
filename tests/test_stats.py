"""Room-bootstrap intervals: the room, not the item, is resampled; paired differences of two
methods on the same items."""

from __future__ import annotations

import pytest
import torch

from lerf3d.stats import paired_room_bootstrap, room_bootstrap


def test_interval_of_identical_rooms_is_a_point() -> None:
    hit = torch.tensor([1, 0, 1, 0, 1, 0], dtype=torch.bool)
    rooms = torch.tensor([7, 7, 8, 8, 9, 9])
    assert room_bootstrap(hit, rooms) == (0.5, 0.5)


def test_interval_follows_rooms_not_crops() -> None:
    # two rooms, one all right and one all wrong, equal sizes: resampled rooms give 0, 0.5 or 1
    hit = torch.tensor([True] * 50 + [False] * 50)
    rooms = torch.tensor([1] * 50 + [2] * 50)
    lo, hi = room_bootstrap(hit, rooms, level=0.9, draws=4000)
    assert (lo, hi) == (0.0, 1.0)
    # the same 100 crops spread over 50 rooms of one right and one wrong crop each: no spread at all
    spread = torch.arange(100) // 2
    mixed = torch.tensor([True, False] * 50)
    assert room_bootstrap(mixed, spread) == (0.5, 0.5)


def test_interval_is_pooled_over_crops_and_seeded() -> None:
    # a big room at 90 % and a small one at 0 %: the pooled rate of a draw weights rooms by crops
    hit = torch.tensor([True] * 90 + [False] * 10 + [False] * 10)
    rooms = torch.tensor([0] * 100 + [1] * 10)
    lo, hi = room_bootstrap(hit, rooms, level=0.99, draws=2000, seed=3)
    assert lo == 0.0 and abs(hi - 0.9) < 1e-9  # both-small draws give 0, both-big 0.9
    assert room_bootstrap(hit, rooms, seed=3) == room_bootstrap(hit, rooms, seed=3)
    mid = room_bootstrap(hit, rooms, level=0.0, draws=2000, seed=3)
    assert abs(mid[0] - 90 / 110) < 1e-9  # the median draw holds one room of each


def test_single_room_gives_its_rate() -> None:
    hit = torch.tensor([True, True, False, True])
    assert room_bootstrap(hit, torch.zeros(4, dtype=torch.int64)) == (0.75, 0.75)


def test_paired_difference_of_identical_methods_is_exactly_zero() -> None:
    hit = torch.tensor([True, False, True, True, False, False])
    rooms = torch.tensor([0, 0, 1, 1, 2, 2])
    assert paired_room_bootstrap(hit, hit, rooms) == (0.0, 0.0, 0.0)


def test_paired_difference_is_b_minus_a_with_rooms_resampled_together() -> None:
    # b is right on one more question in every room (room sizes 4): +1/4 in every draw
    rooms = torch.tensor([0] * 4 + [1] * 4 + [2] * 4)
    a = torch.tensor([True, False, False, False] * 3)
    b = torch.tensor([True, True, False, False] * 3)
    assert paired_room_bootstrap(a, b, rooms) == (0.25, 0.25, 0.25)
    assert paired_room_bootstrap(b, a, rooms) == (-0.25, -0.25, -0.25)


def test_paired_interval_holds_zero_when_rooms_disagree() -> None:
    # b gains 2 questions in room 0 and loses 2 in room 1: no difference overall, and the
    # resampled rooms move it either way
    rooms = torch.tensor([0] * 4 + [1] * 4)
    a = torch.tensor([False, False, True, True, True, True, False, False])
    b = torch.tensor([True, True, True, True, False, False, False, False])
    difference, low, high = paired_room_bootstrap(a, b, rooms, level=0.9, draws=4000)
    assert difference == 0.0 and (low, high) == (-0.5, 0.5)


def test_intervals_refuse_mismatched_items() -> None:
    with pytest.raises(ValueError, match="one room id per item"):
        room_bootstrap(torch.ones(3, dtype=torch.bool), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="one room id per item"):
        paired_room_bootstrap(torch.ones(4, dtype=torch.bool), torch.ones(3, dtype=torch.bool),
                              torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match="non-empty"):
        room_bootstrap(torch.ones(0, dtype=torch.bool), torch.zeros(0, dtype=torch.int64))
