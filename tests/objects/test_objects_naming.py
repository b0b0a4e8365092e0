"""Naming objects: an item is not named after what it rests on; a part of its support keeps its name."""

from __future__ import annotations

import numpy as np
import torch
from objects_helpers import TABLE_AND_CUP, TableTextEncoder, boxes_objects

from lerf3d.objects.counting import instance_counts
from lerf3d.objects.naming import object_names, part_owners
from lerf3d.objects.relations import resting_on

PHRASES = ("table", "cup", "crate")


def _names(rows, support, base):
    names = object_names(torch.tensor(rows), np.array(support), torch.tensor(base, dtype=torch.float32))
    return [PHRASES[i] for i in names.tolist()]


def test_an_item_named_like_its_support_takes_its_own_phrase():
    rows = [[0.9, 0.5, 0.6],  # 0 the table
            [0.8, 0.75, 0.4]]  # 1 a cup whose crops show the table top: "table" scores highest
    assert _names(rows, [-1, 0], [0.0, 0.75]) == ["table", "cup"]
    assert _names(rows, [-1, -1], [0.0, 0.75]) == ["table", "table"]  # resting on nothing: its best phrase


def test_an_item_named_otherwise_than_its_support_keeps_its_name():
    rows = [[0.92, 0.52, 0.46],  # 0 a table that scores "cup" a little over 0.5 (its crops show the cup)
            [0.67, 0.73, 0.71],  # 1 the cup on it: its best phrase is its own, whatever the table scores
            [0.72, 0.55, 0.4]]  # 2 best called "table", as its support is: the rule names it "cup"
    assert _names(rows, [-1, 0, 0], [0.0, 0.75, 0.75]) == ["table", "cup", "cup"]


def test_a_part_of_its_support_keeps_the_supports_name():
    rows = [[0.9, 0.5, 0.6],
            [0.92, 0.55, 0.4],  # "table" fits it at least as well as the table itself: a part of it
            [0.85, 0.52, 0.58],  # "crate" fits the table better than it: nothing of its own
            [0.85, 0.45, 0.3]]  # "cup" is under LERF's neutral 0.5: nothing of its own
    assert _names(rows, [-1, 0, 0, 0], [0.0, 0.75, 0.75, 0.75]) == ["table"] * 4


def test_supports_are_named_before_what_rests_on_them():
    rows = [[0.9, 0.5, 0.6],  # 0 the table
            [0.6, 0.7, 0.75],  # 1 a glass on the crate, best "crate"
            [0.88, 0.3, 0.8]]  # 2 the crate on the table, best "table"
    # the crate becomes "crate" first; then the glass, named like its support, becomes "cup"
    assert _names(rows, [-1, 2, 0], [0.0, 0.95, 0.75]) == ["table", "cup", "crate"]


def test_one_phrase_names_everything_by_it():
    names = object_names(torch.tensor([[0.9], [0.8]]), np.array([-1, 0]), torch.tensor([0.0, 0.75]))
    assert names.tolist() == [0, 0]


def test_label_names_a_cup_on_a_table_a_cup_and_counting_keeps_it_apart():
    boxes = [((0.0, 0.0, 0.0), (1.2, 0.8, 0.75)),  # the table
             ((0.3, 0.3, 0.75), (0.4, 0.4, 0.85)),  # the cup on it
             ((0.8, 0.3, 0.75), (1.0, 0.5, 0.8))]  # a part of the table top, segmented apart
    embeddings = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.8, 0.0, 0.0, 0.6], [0.0, 1.0, 0.05, 0.0, 0.0]])
    objects = boxes_objects(boxes, embeddings)
    assert resting_on(objects).tolist() == [-1, 0, 0]
    labels = objects.label(["table", "cup"], TableTextEncoder(TABLE_AND_CUP))
    assert labels.scores.argmax(dim=1).tolist() == [0, 0, 0]  # by score alone the cup is a table
    assert labels.best() == ["table", "cup", "table"]
    assert [name for name, _ in labels.top(1, 2)] == ["cup", "table"]  # its name first
    counts, unlabelled = instance_counts(objects, labels)
    assert counts == {"table": 1, "cup": 1} and unlabelled == 0  # the part joins the table it touches


def test_part_owners_join_a_part_to_the_support_it_is_named_after_down_a_chain():
    names = torch.tensor([0, 0, 1, 0])  # table, a part of it, a cup on it, a part of the part
    support = np.array([-1, 0, 0, 1])
    owner = part_owners(names, support, torch.tensor([0.0, 0.75, 0.75, 0.8]))
    assert owner.tolist() == [0, 0, 2, 0]
    assert part_owners(names, np.array([-1, -1, -1, -1]), torch.zeros(4)).tolist() == [0, 1, 2, 3]
