"""Object mode's pure parts: where an object's map peaks within its region of a view."""

from __future__ import annotations

import numpy as np

from lerf3d.objects.scorer import interior_weight


def test_interior_weight_peaks_in_the_middle_of_each_objects_region():
    ids = np.full((9, 12), -1)
    ids[1:8, 1:6] = 0  # a 7 x 5 block: its middle is (4, 3)
    ids[2:5, 8:11] = 1  # a 3 x 3 block: its middle is (3, 9)
    weight = interior_weight(ids)
    assert weight[4, 3] == 1.0 and weight[3, 9] == 1.0
    assert weight[1, 1] == 0.0 and weight[2, 8] == 0.0  # outlines
    assert (weight[ids < 0] == 0).all() and weight.max() == 1.0
    assert weight[4, 2] < weight[4, 3]
