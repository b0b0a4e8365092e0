"""Object evaluation: IoUs by hand, one-to-one matching, recall, precision, labels and counts."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import torch
from objects_helpers import boxes_objects

from lerf3d.ground_truth import GroundTruthObject
from lerf3d.objects.evaluate import box_iou_matrix, evaluate_objects, point_iou_matrix
from lerf3d.objects.scene_objects import ObjectLabels


def test_box_iou_by_hand():
    a_lo, a_hi = np.array([[0.0, 0, 0]]), np.array([[2.0, 1, 1]])
    b_lo, b_hi = np.array([[1.0, 0, 0], [5.0, 5, 5]]), np.array([[3.0, 1, 1], [6.0, 6, 6]])
    iou = box_iou_matrix(a_lo, a_hi, b_lo, b_hi)
    np.testing.assert_allclose(iou, [[1.0 / 3.0, 0.0]])  # overlap 1 of union 3


def test_point_iou_by_hand():
    predicted = np.array([0, 0, 0, 1, 1, -1])
    annotated = np.array([7, 7, 3, 3, 3, 3])
    iou = point_iou_matrix(predicted, annotated, 2, [3, 7])
    # instance 3 = points {2,3,4,5}; object 0 = {0,1,2}, object 1 = {3,4}
    np.testing.assert_allclose(iou, [[1 / 6, 2 / 4], [2 / 3, 0.0]])


def _truth(label, lo, hi, instance):
    return GroundTruthObject(instance, label, "Living room", np.array(lo, float), np.array(hi, float))


def test_evaluate_objects_scores_a_split_piece_and_a_missed_one():
    furniture = [
        _truth("sofa", (0, 0, 0), (2.0, 1.0, 0.8), 1),
        _truth("chair", (3, 0, 0), (3.5, 0.5, 0.9), 2),
        _truth("chair", (3, 2, 0), (3.5, 2.5, 0.9), 3),
        _truth("cup", (1.0, 0.4, 0.8), (1.1, 0.5, 0.9), 4),  # small: not scored for recall
    ]
    boxes = [
        ((0, 0, 0), (1.2, 1.0, 0.8)),  # most of the sofa
        ((1.3, 0, 0), (2.0, 1.0, 0.8)),  # the sofa's other end: a false object
        ((3, 0, 0), (3.5, 0.5, 0.9)),  # chair 2; chair 3 is missed
    ]
    objects = boxes_objects(boxes, torch.eye(3))
    labels = ObjectLabels(("chair", "cup", "sofa"), torch.tensor([[0.2, 0.1, 0.9], [0.3, 0.2, 0.7],
                                                                    [0.8, 0.1, 0.4]]))
    annotated = np.zeros(len(objects.xyz), dtype=np.int64)
    result = evaluate_objects(objects, labels, furniture, annotated, "room")
    assert result.num_annotated == 3 and result.num_predicted == 3
    assert abs(result.recall - 2 / 3) < 1e-9 and abs(result.precision - 2 / 3) < 1e-9
    assert result.label_top1 == 1.0
    # the sofa's two parts touch and share their best label: one instance (lerf3d.objects.counting)
    assert result.counts == {"chair": (1, 2), "cup": (0, 1), "sofa": (1, 1)}
    assert abs(result.count_exact - 1 / 3) < 1e-9
    assert result.small_labels == ("cup",)  # under 0.25 m across
    json.dumps(asdict(result))  # eval/objects.json is written from it
    assert result.num_furniture_labels == 2 and result.count_exact_furniture == 0.5
    assert sorted(result.matches) == [(0, 1), (2, 2)]
