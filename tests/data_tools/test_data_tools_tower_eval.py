"""Tower evaluation: attribute accuracy and per-catalogue top-1 (the room-bootstrap intervals are
lerf3d.stats', tests/test_stats.py)."""

from __future__ import annotations

import torch

from data_tools.tower_data import CropSet
from data_tools.tower_eval import (
    attribute_accuracy,
    coverage_groups,
    grouped_top1,
    rooms_per_model,
)


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
