"""Counting instances per label: touching or stacked objects of one best label join, distant ones
do not."""

from __future__ import annotations

import numpy as np
import torch
from objects_helpers import boxes_objects

from lerf3d.objects.counting import instance_counts
from lerf3d.objects.relations import CONTACT_GAP_M, stacked, touching
from lerf3d.objects.scene_objects import ObjectLabels


def _scene():
    boxes = [
        ((0.0, 0.0, 0.35), (0.5, 0.5, 0.85)),  # a chair's seat and back
        ((0.2, 0.2, 0.0), (0.3, 0.3, 0.25)),  # its pedestal, 10 cm under the seat
        ((2.0, 0.0, 0.0), (2.5, 0.5, 0.85)),  # a second chair, 1.5 m away
        ((0.6, 0.0, 0.0), (1.0, 0.4, 0.5)),  # a stool 10 cm beside the first chair
        ((4.0, 4.0, 0.0), (4.3, 4.3, 0.3)),  # something no phrase describes
    ]
    return boxes_objects(boxes, torch.eye(5))


def test_touching_reads_the_gap_between_points_not_boxes():
    near = touching(_scene(), CONTACT_GAP_M)
    assert near[0, 1] and near[1, 0] and near[0, 3]  # 10 cm gaps
    assert not near[0, 2] and not near[1, 3] and not near[2, 4]
    assert not touching(_scene(), 0.05)[0, 1]  # the pedestal is 10 cm off the seat
    only = np.zeros((5, 5), dtype=bool)
    only[0, 3] = only[3, 0] = True
    asked = touching(_scene(), CONTACT_GAP_M, only)
    assert asked[0, 3] and not asked[0, 1]  # pairs outside the candidates are not tested


def test_instances_join_touching_objects_of_one_label_only():
    scores = torch.tensor([
        [0.9, 0.3],  # chair
        [0.7, 0.4],  # chair (the pedestal)
        [0.8, 0.2],  # chair
        [0.3, 0.8],  # stool, touching the first chair: its own instance
        [0.45, 0.4],  # under neutral for both
    ])
    counts, unlabelled = instance_counts(_scene(), ObjectLabels(("chair", "stool"), scores))
    assert counts == {"chair": 2, "stool": 1} and unlabelled == 1
    swapped = torch.tensor([[0.9, 0.3], [0.3, 0.7], [0.8, 0.2], [0.7, 0.4], [0.45, 0.4]])  # stool <-> pedestal
    near, _ = instance_counts(_scene(), ObjectLabels(("chair", "stool"), swapped))
    apart, _ = instance_counts(_scene(), ObjectLabels(("chair", "stool"), swapped), gap_m=0.05)
    assert near == {"chair": 2, "stool": 1} and apart == {"chair": 3, "stool": 1}  # 10 cm apart
    stacked_pedestal, _ = instance_counts(_scene(), ObjectLabels(("chair", "stool"), scores), gap_m=0.05)
    assert stacked_pedestal == {"chair": 2, "stool": 1}  # under the seat: stacked, whatever the gap


def test_stacked_parts_of_one_name_join_and_shelves_further_apart_than_tall_do_not():
    boxes = [((0.0, 0.0, 0.0), (0.4, 0.4, 0.3)),  # a plant's pot
             ((-0.05, -0.05, 0.45), (0.45, 0.45, 0.95)),  # its leaves, 15 cm over it (stems unfused)
             ((2.0, 0.0, 1.0), (2.8, 0.25, 1.03)),  # a wall shelf
             ((2.0, 0.0, 1.33), (2.8, 0.25, 1.36)),  # another, 30 cm over it
             ((0.7, 0.0, 0.0), (1.1, 0.4, 0.3))]  # a second pot 25 cm beside the plant's leaves
    objects = boxes_objects(boxes, torch.eye(5))
    over = stacked(objects)
    assert over[0, 1] and over[1, 0] and not over[2, 3] and not over[1, 4] and not over[0, 4]
    assert not touching(objects, CONTACT_GAP_M)[0, 1]  # 15 cm apart
    scores = torch.tensor([[0.8, 0.2], [0.9, 0.2], [0.2, 0.8], [0.2, 0.8], [0.8, 0.2]])
    counts, _ = instance_counts(objects, ObjectLabels(("plant", "shelves"), scores))
    assert counts == {"plant": 2, "shelves": 2}


def test_a_one_word_vocabulary_counts_only_objects_over_neutral():
    scores = torch.tensor([[0.9], [0.2], [0.8], [0.5], [0.1]])
    counts, unlabelled = instance_counts(_scene(), ObjectLabels(("chair",), scores))
    # the seat and stool touch and both score >= 0.5: one instance; the far chair another
    assert counts == {"chair": 2} and unlabelled == 2
    assert instance_counts(_scene(), ObjectLabels((), scores[:, :0])) == ({}, 5)
    assert np.array_equal(touching(_scene(), 0.12), touching(_scene(), 0.12).T)
