"""Object tokens from the object layer: one token per :class:`~lerf3d.objects.SceneObjects` object.

The object layer already says what and where each object is (embedding at its own scale, box,
centroid, colour, confidence); a token is those numbers, in the scene frame (world metres) or in one
camera's egocentric frame. Tokens run west to east (scene) or left to right (a camera), the order
segment tokens use, so an identifier ``<objK>`` is the K-th token of its frame.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from jaxtyping import Float

from lerf3d.geometry import to_camera_frame
from lerf3d.objects.scene_objects import SceneObjects
from lerf3d.scene_llm.tokens.frames import SceneTokens


def object_tokens(objects: SceneObjects) -> SceneTokens:
    """Scene-frame tokens of every object, west to east; ``bounds`` is the box of all fused points
    (the room, shell included), as for segment tokens."""
    order = torch.argsort(objects.centroid[:, 0], stable=True)
    bounds = torch.stack([objects.xyz.amin(0), objects.xyz.amax(0)]) if len(objects.xyz) else None
    return SceneTokens(
        objects.centroid[order].float(), objects.embedding[order].float(), objects.colour[order].float(),
        "scene", lower=objects.box_min[order].float(), upper=objects.box_max[order].float(), bounds=bounds,
        confidence=objects.confidence[order].float(),
    )


def box_corners(lower: Float[torch.Tensor, "T 3"], upper: Float[torch.Tensor, "T 3"]) -> Float[torch.Tensor, "T 8 3"]:
    """The 8 corners of each axis-aligned box."""
    picks = torch.tensor(list(itertools.product((0, 1), repeat=3)), dtype=torch.bool)  # (8, 3)
    return torch.where(picks[None], upper[:, None], lower[:, None])


def egocentric(tokens: SceneTokens, camera_to_world: Float[torch.Tensor, "4 4"] | np.ndarray,
               in_front_only: bool = True) -> SceneTokens:
    """``tokens`` (scene frame) as seen from a camera: centroids in its OpenCV frame (x right, y down,
    z forward), boxes as the axis-aligned hull of their transformed corners, ordered left to right.
    ``in_front_only`` drops objects whose centroid is behind the camera (z <= 0)."""
    if tokens.frame != "scene":
        raise ValueError(f"egocentric() takes scene-frame tokens, got {tokens.frame!r}")
    xyz = to_camera_frame(tokens.xyz, camera_to_world)
    lower = upper = None
    if tokens.lower is not None and tokens.upper is not None:
        corners = to_camera_frame(box_corners(tokens.lower, tokens.upper).reshape(-1, 3), camera_to_world)
        corners = corners.reshape(-1, 8, 3)
        lower, upper = corners.amin(dim=1), corners.amax(dim=1)
    keep = xyz[:, 2] > 0 if in_front_only else torch.ones(len(xyz), dtype=torch.bool)
    order = torch.argsort(xyz[keep][:, 0], stable=True)
    index = torch.nonzero(keep).squeeze(1)[order]

    def pick(value):
        return None if value is None else value[index]

    return SceneTokens(xyz[index], tokens.features[index], pick(tokens.rgb), "ego", lower=pick(lower),
                       upper=pick(upper), confidence=pick(tokens.confidence))
