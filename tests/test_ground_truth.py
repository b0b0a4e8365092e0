"""Reading ground_truth.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lerf3d.ground_truth import load_ground_truth


def test_generated_room_ground_truth_reads(tiny_room):
    truth = load_ground_truth(tiny_room)
    labels = {o.label for o in truth.objects}
    assert {"floor", "wall"} <= labels
    assert len(truth.furniture) >= 3
    for obj in truth.objects:
        assert np.all(obj.box_max >= obj.box_min), obj.label
    name = sorted(truth.mask_paths)[0]
    mask = truth.load_mask(name)
    assert mask.ndim == 2 and set(np.unique(mask).tolist()) <= {0} | {o.instance_id for o in truth.objects}


def test_malformed_ground_truth_names_the_file(tmp_path):
    path = tmp_path / "ground_truth.json"
    path.write_text(json.dumps({"objects": [{"label": "chair"}]}))
    with pytest.raises(ValueError, match="ground_truth.json: malformed"):
        load_ground_truth(path)
    with pytest.raises(FileNotFoundError, match="no ground truth"):
        load_ground_truth(tmp_path / "missing.json")
