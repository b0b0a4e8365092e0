"""Object tokens: confidence of segment tokens, SceneObjects as tokens, the egocentric transform."""

from __future__ import annotations

import math

import pytest
import torch

from lerf3d.objects.scene_objects import SceneObjects
from lerf3d.scene_llm.tokens.frames import SceneTokens, TokenEncoding
from lerf3d.scene_llm.tokens.objects import box_corners, egocentric, object_tokens
from lerf3d.scene_llm.tokens.segments import segment_tokens

# An OpenCV camera at (0, -3, 1) looking north (+y): its x is world +x, its y world -z (down), its z
# world +y (forward). Columns of the rotation are the camera axes in world coordinates.
NORTH_CAMERA = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, -3.0], [0.0, -1.0, 0.0, 1.0], [0, 0, 0, 1]])


def test_segment_token_confidence_is_the_mean_cosine_to_the_token_feature():
    xyz = torch.tensor([[0.0, 0, 0], [0.1, 0, 0], [2.0, 0, 0], [2.1, 0, 0]])
    features = torch.tensor([[1.0, 0], [1.0, 0], [1.0, 0], [0.0, 1]])  # segment 1: two orthogonal points
    tokens = segment_tokens(xyz, features, None, torch.tensor([0, 0, 1, 1]), "scene")
    torch.testing.assert_close(tokens.confidence, torch.tensor([1.0, math.cos(math.pi / 4)]))
    encoded = tokens.projector_input(encoding=TokenEncoding(include_rgb=False, confidence=True))
    assert encoded.shape == (2, TokenEncoding(confidence=True).input_dim(2) - 3)
    torch.testing.assert_close(encoded[:, -1], tokens.confidence * 2 - 1)


def test_confidence_encoding_needs_confidence():
    tokens = SceneTokens(torch.zeros(2, 3), torch.ones(2, 4), None, "scene")
    with pytest.raises(ValueError, match="confidence"):
        tokens.projector_input(encoding=TokenEncoding(include_rgb=False, confidence=True))


def test_egocentric_transform_by_hand():
    lower = torch.tensor([[0.5, -0.5, 0.5], [-1.2, -0.2, 0.8], [-0.1, -5.1, 0.9]])
    upper = torch.tensor([[1.5, 0.5, 1.5], [-0.8, 0.2, 1.2], [0.1, -4.9, 1.1]])
    xyz = (lower + upper) / 2  # (1, 0, 1) right of the view, (-1, 0, 1) left, (0, -5, 1) behind
    scene = SceneTokens(xyz, torch.eye(3), torch.rand(3, 3), "scene", lower=lower, upper=upper,
                        confidence=torch.tensor([0.9, 0.8, 0.7]))
    ego = egocentric(scene, NORTH_CAMERA)
    assert ego.frame == "ego" and ego.num_tokens == 2  # the one behind the camera is dropped
    torch.testing.assert_close(ego.xyz, torch.tensor([[-1.0, 0.0, 3.0], [1.0, 0.0, 3.0]]))  # left first
    torch.testing.assert_close(ego.lower, torch.tensor([[-1.2, -0.2, 2.8], [0.5, -0.5, 2.5]]))
    torch.testing.assert_close(ego.upper, torch.tensor([[-0.8, 0.2, 3.2], [1.5, 0.5, 3.5]]))
    torch.testing.assert_close(ego.features, torch.eye(3)[[1, 0]])
    torch.testing.assert_close(ego.confidence, torch.tensor([0.8, 0.9]))
    assert egocentric(scene, NORTH_CAMERA, in_front_only=False).num_tokens == 3
    with pytest.raises(ValueError, match="scene-frame"):
        egocentric(ego, NORTH_CAMERA)


def test_box_corners_span_the_box():
    corners = box_corners(torch.tensor([[0.0, 1, 2]]), torch.tensor([[3.0, 4, 5]]))
    assert corners.shape == (1, 8, 3)
    assert {tuple(c) for c in corners[0].tolist()} == {(x, y, z) for x in (0, 3) for y in (1, 4) for z in (2, 5)}


def test_object_tokens_carry_the_object_layer_west_to_east():
    xyz = torch.tensor([[2.0, 0, 0], [2.2, 0, 0], [-1.0, 1, 0], [-0.8, 1, 0], [0.0, 0, 3]])
    objects = SceneObjects(
        xyz=xyz, rgb=torch.rand(5, 3), point_object=torch.tensor([0, 0, 1, 1, -1]),
        box_min=torch.tensor([[2.0, 0, 0], [-1.0, 1, 0]]), box_max=torch.tensor([[2.2, 0, 0], [-0.8, 1, 0]]),
        centroid=torch.tensor([[2.1, 0, 0], [-0.9, 1, 0]]), colour=torch.tensor([[1.0, 0, 0], [0, 0, 1]]),
        embedding=torch.eye(2), scale=torch.tensor([0.2, 0.2]), dino=None, views=((), ()),
        confidence=torch.tensor([0.6, 0.9]), encoder="test",
    )
    tokens = object_tokens(objects)
    torch.testing.assert_close(tokens.xyz, torch.tensor([[-0.9, 1, 0], [2.1, 0, 0]]))
    torch.testing.assert_close(tokens.features, torch.eye(2)[[1, 0]])
    torch.testing.assert_close(tokens.confidence, torch.tensor([0.9, 0.6]))
    torch.testing.assert_close(tokens.bounds, torch.tensor([[-1.0, 0, 0], [2.2, 1, 3]]))
    assert tokens.frame == "scene"
