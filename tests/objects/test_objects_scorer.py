"""Object mode's pure parts: where an object's map peaks within its region of a view, and a part
shown with the support it is named after."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from objects_helpers import TABLE_AND_CUP, TableTextEncoder, boxes_objects

from lerf3d.objects.scorer import INTERIOR_DIP, ObjectScorer, above_neutral, interior_weight, owned_values
from lerf3d.query.camera import QueryCamera
from lerf3d.types import Intrinsics


def test_interior_weight_peaks_in_the_middle_of_each_objects_region():
    ids = np.full((9, 12), -1)
    ids[1:8, 1:6] = 0  # a 7 x 5 block: its middle is (4, 3)
    ids[2:5, 8:11] = 1  # a 3 x 3 block: its middle is (3, 9)
    weight = interior_weight(ids)
    assert weight[4, 3] == 1.0 and weight[3, 9] == 1.0
    assert weight[1, 1] == 0.0 and weight[2, 8] == 0.0  # outlines
    assert (weight[ids < 0] == 0).all() and weight.max() == 1.0
    assert weight[4, 2] < weight[4, 3]


def test_a_part_shows_its_supports_value_only_for_a_phrase_that_selects_the_support():
    relevancy = torch.tensor([[0.7, 0.3],  # the table: "table", "calendar"
                              [0.85, 0.8]])  # a calendar on it whose crops are half table top
    owner = torch.tensor([0, 0])  # named "table" after its support: a part of it
    shown = owned_values(relevancy, owner)
    table = float(above_neutral(torch.tensor(0.7)))
    assert shown[0, 0] == pytest.approx(table) and shown[1, 0] == pytest.approx(table * (1 - INTERIOR_DIP))
    assert shown[1, 1] == pytest.approx(float(above_neutral(torch.tensor(0.8))))  # "calendar" leaves the table dark
    assert shown[0, 1] == 0.0
    alone = owned_values(relevancy, torch.tensor([0, 1]))
    assert alone[1, 0] > alone[0, 0]  # standing alone, the calendar would take the table's peak


def test_object_mode_peaks_on_the_table_not_on_the_part_of_it_named_table():
    boxes = [((0.0, 0.0, 0.0), (1.2, 0.8, 0.75)),  # the table: its crops also show the room ("object")
             ((0.8, 0.3, 0.75), (1.0, 0.5, 0.8))]  # something on its top, all table top in its crops
    objects = boxes_objects(boxes, torch.tensor([[0.0, 0.9, 0.3, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0]]))
    encoder = TableTextEncoder(TABLE_AND_CUP)
    pose = np.array([[1.0, 0, 0, 0.6], [0, -1.0, 0, 0.4], [0, 0, -1.0, 3.0], [0, 0, 0, 1.0]])  # looking down
    camera = QueryCamera(Intrinsics(40.0, 40.0, 32.0, 24.0, 64, 48), pose, name="top")
    alone = ObjectScorer(objects, encoder)
    scores = alone.object_scores(["table"])
    assert scores[1, 0] > scores[0, 0] > 0.5  # by score alone the part is the better "table"
    ids, _ = alone.object_map(camera)
    assert (ids == 0).sum() > 100 and (ids == 1).sum() > 10

    def peak(scorer: ObjectScorer) -> int:
        values = scorer.maps(camera, ["table"])[0].values
        return int(ids.reshape(-1)[int(torch.as_tensor(values).argmax())])

    assert peak(alone) == 1
    named = ObjectScorer(objects, encoder, vocabulary=["table", "cup"])
    assert named.owner.tolist() == [0, 0]
    assert peak(named) == 0
