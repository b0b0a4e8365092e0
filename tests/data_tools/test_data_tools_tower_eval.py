"""Tower evaluation: room-bootstrap intervals (the room, not the crop, is resampled), attribute
accuracy and per-catalogue top-1."""

from __future__ import annotations

import torch

from data_tools.tower_data import CropSet
from data_tools.tower_eval import (
    attribute_accuracy,
    coverage_groups,
    grouped_top1,
    room_bootstrap,
    rooms_per_model,
)


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


def _crops(labels, models, colours) -> CropSet:
    n = len(labels)
    return CropSet(torch.zeros(n, 3, 8, 8, dtype=torch.uint8), torch.tensor(labels), torch.full((n,), 0.3),
                   torch.zeros(n, dtype=torch.int64), torch.tensor(models), torch.tensor(colours),
                   torch.full((n,), -1))


def test_attribute_accuracy_compares_words_phrased_with_the_crops_own_label() -> None:
    # 2 colour words x 2 labels, one-hot phrase embeddings: "red chair" e0, "blue chair" e1,
    # "red table" e2, "blue table" e3
    table = torch.eye(4).reshape(2, 2, 4).transpose(0, 1).contiguous()  # (W=2, C=2, D=4)
    assert torch.equal(table[1, 0], torch.eye(4)[1])  # blue, chair
    # a chair that looks like "blue chair" (right), a table that looks like "blue chair" (its own label's
    # phrases are e2 / e3, where it scores 0: the first word wins the tie), one crop without a colour
    emb = torch.stack([torch.eye(4)[1], torch.eye(4)[1], torch.eye(4)[0]])
    crops = _crops([0, 1, 0], [0, 1, 0], [1, 1, -1])
    acc, n = attribute_accuracy(emb, crops.labels, crops.colours, table)
    assert n == 2 and acc == 0.5
    assert attribute_accuracy(emb, crops.labels, torch.full((3,), -1), table)[1] == 0


def test_grouped_top1_splits_crops_by_their_models_group() -> None:
    texts = torch.eye(3)
    emb = torch.eye(3)[[0, 1, 1, 2]]  # crop 2 (label 2) is seen as label 1
    crops = _crops([0, 1, 2, 2], [0, 1, 2, 3], [-1] * 4)
    out = grouped_top1(emb, crops, texts, ["A", "A", "B", ""])  # model 3: the shell, left out
    assert out == {"A": (1.0, 2), "B": (0.0, 1)}


def test_models_are_grouped_by_the_training_rooms_that_hold_them() -> None:
    # model 0 in rooms 5 and 6 (three crops), model 1 in room 5 only, model 2 nowhere, model 3 in
    # four rooms, model 4 the shell (in every room, left out)
    models = torch.tensor([0, 0, 0, 1, 3, 3, 3, 3, 4, 4])
    rooms = torch.tensor([5, 6, 6, 5, 1, 2, 3, 4, 5, 6])
    crops = CropSet(torch.zeros(10, 3, 8, 8, dtype=torch.uint8), torch.zeros(10, dtype=torch.int64),
                    torch.full((10,), 0.3), rooms, models, torch.full((10,), -1), torch.full((10,), -1))
    counts = rooms_per_model(crops, 5)
    assert counts.tolist() == [2, 1, 0, 4, 2]
    groups = coverage_groups(counts, [True, True, True, True, False])
    assert groups == ["2-3 rooms", "1 room", "0 rooms", "4+ rooms", ""]
