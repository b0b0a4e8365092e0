"""SceneObjects: shape checks, members, and labels scored with LERF relevancy."""

from __future__ import annotations

import pytest
import torch
from objects_helpers import TableTextEncoder, boxes_objects

from lerf3d.query.relevancy import CANONICAL_NEGATIVES

TABLE = {
    "chair": [1.0, 0.0, 0.0, 0.0],
    "table": [0.0, 1.0, 0.0, 0.0],
    "object": [0.3, 0.3, 0.9, 0.0],
    "things": [0.2, 0.1, 0.0, 1.0],
    "stuff": [0.1, 0.2, 0.5, 0.5],
    "texture": [0.0, 0.0, 0.0, 1.0],
}


def _objects():
    embeddings = torch.tensor([[0.9, 0.1, 0.3, 0.0], [0.1, 0.8, 0.0, 0.4]])
    return boxes_objects([((0, 0, 0), (0.5, 0.5, 0.8)), ((1, 0, 0), (2.0, 1.0, 0.75))], embeddings)


def test_label_is_lerf_relevancy_against_the_canonical_negatives():
    objects = _objects()
    encoder = TableTextEncoder(TABLE)
    labels = objects.label(["chair", "table"], encoder)
    phi = objects.embedding
    expected = torch.zeros(2, 2)
    for k in range(2):
        for p, phrase in enumerate(["chair", "table"]):
            q = encoder.table[phrase]
            # LERF sec. 3.4 written out: a two-way softmax per negative, the minimum over negatives
            per_negative = [torch.softmax(10 * torch.stack([phi[k] @ q, phi[k] @ encoder.table[c]]), 0)[0]
                            for c in CANONICAL_NEGATIVES]
            expected[k, p] = min(per_negative)
    torch.testing.assert_close(labels.scores, expected)
    assert labels.best() == ["chair", "table"]
    assert [name for name, _ in labels.top(1, 2)] == ["table", "chair"]


def test_label_refuses_another_embedding_space_and_empty_phrases():
    objects = _objects()
    other = TableTextEncoder(TABLE)
    other.name = "test:other"
    with pytest.raises(ValueError, match="test:table"):
        objects.label(["chair"], other)
    with pytest.raises(ValueError, match="empty"):
        objects.label(["  "], TableTextEncoder(TABLE))


def test_members_and_shape_checks():
    objects = _objects()
    assert len(objects) == 2
    members = objects.members(1)
    assert bool((objects.xyz[members, 0] >= 1).all()) and len(members) == int((objects.point_object == 1).sum())
    with pytest.raises(IndexError, match="2 objects"):
        objects.members(2)
    torch.testing.assert_close(objects.extent[1], torch.tensor([1.0, 1.0, 0.75]))
    with pytest.raises(ValueError, match="point_object must lie"):
        type(objects)(**{**objects.__dict__, "point_object": objects.point_object + 5})
    with pytest.raises(ValueError, match="views"):
        type(objects)(**{**objects.__dict__, "views": ()})


def test_above_neutral_is_zero_up_to_lerfs_neutral_point_then_linear():
    from lerf3d.objects.scorer import above_neutral

    values = above_neutral(torch.tensor([0.1, 0.5, 0.75, 1.0]))
    torch.testing.assert_close(values, torch.tensor([0.0, 0.0, 0.5, 1.0]))


def test_object_map_values_keep_the_best_candidate_when_nothing_is_selected():
    from lerf3d.objects.scorer import object_map_values

    relevancy = torch.tensor([[0.9, 0.3], [0.6, 0.45], [0.2, 0.1]])  # phrase 0 selects two objects, 1 none
    torch.testing.assert_close(object_map_values(relevancy), torch.tensor([[0.8, 0.3], [0.2, 0.45], [0.0, 0.1]]))


def test_object_labels_check_their_shapes_and_name_by_the_chosen_phrase():
    from lerf3d.objects.scene_objects import ObjectLabels

    scores = torch.tensor([[0.9, 0.6], [0.7, 0.65]])
    with pytest.raises(ValueError, match="scores must be"):
        ObjectLabels(("chair",), scores)
    with pytest.raises(ValueError, match="chosen must be"):
        ObjectLabels(("chair", "cup"), scores, torch.tensor([0]))
    labels = ObjectLabels(("chair", "cup"), scores, torch.tensor([0, 1]))
    assert labels.best() == ["chair", "cup"] and ObjectLabels(("chair", "cup"), scores).best() == ["chair", "chair"]
    assert labels.top(1, 1) == [("cup", pytest.approx(0.65))]
