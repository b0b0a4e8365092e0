"""Relations between objects: what rests on what (touching is tested with counting)."""

from __future__ import annotations

import torch
from objects_helpers import boxes_objects

from lerf3d.objects.relations import resting_on

BOXES = [
    ((0.0, 0.0, 0.0), (1.2, 0.8, 0.75)),  # 0 a table
    ((0.3, 0.3, 0.75), (0.4, 0.4, 0.85)),  # 1 a cup on it
    ((1.3, 0.0, 0.0), (1.8, 0.5, 0.9)),  # 2 a chair beside it, 10 cm away
    ((0.6, 0.2, 0.75), (1.0, 0.6, 0.95)),  # 3 a crate on the table
    ((0.7, 0.3, 0.95), (0.78, 0.38, 1.05)),  # 4 a glass on the crate
    ((0.5, 0.5, 1.5), (0.6, 0.6, 1.7)),  # 5 a lamp hanging over the table, touching nothing
    ((0.0, 0.9, 0.0), (0.3, 1.2, 0.4)),  # 6 a stool
    ((-0.1, 0.85, 0.35), (0.4, 1.3, 0.45)),  # 7 a cushion overhanging the stool, its base 5 cm under the stool's top
]


def test_an_item_rests_on_the_smallest_piece_under_it_that_it_touches():
    support = resting_on(boxes_objects(BOXES, torch.eye(8)))
    assert support[1] == 0 and support[3] == 0  # cup and crate on the table
    assert support[4] == 3  # the glass on the crate, not on the table under both
    assert support[0] == -1 and support[2] == -1  # on the floor; beside is not on
    assert support[5] == -1  # over the table but not touching it
    assert support[7] == -1  # its footprint is larger than the stool's: the cushion is not an item on it
    assert support[6] == -1


def test_nothing_rests_in_a_scene_of_one_object():
    assert resting_on(boxes_objects(BOXES[:1], torch.eye(1))).tolist() == [-1]
