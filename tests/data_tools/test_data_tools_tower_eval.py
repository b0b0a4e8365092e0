"""Room-bootstrap intervals of the tower evaluation: the room, not the crop, is resampled."""

from __future__ import annotations

import torch

from data_tools.tower_eval import room_bootstrap


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
