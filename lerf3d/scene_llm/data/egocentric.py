"""Egocentric questions: left or right of each other, seen from one frame of the capture.

Scene-LLM's second token frame is the camera's (OpenCV: x right, y down, z forward); these questions
give it something to answer. A pair of objects is asked about from a frame only when the answer
holds on every reading of "left of" from that view:

- both are clearly visible there: at least ``QuestionConfig.min_pixels`` pixels each in the frame's
  instance mask;
- both boxes lie wholly in front of the camera, and the image columns their eight corners project
  to are apart by ``QuestionConfig.ego_gap_fraction`` of the image width (every part of one is left
  of every part of the other in the picture);
- their camera-frame x extents (the corners' x) are apart in the same order, so the egocentric
  tokens' x coordinate and the picture agree (a near object can project left of a far one that
  sits further left in camera x: such pairs are not asked).

Camera maths is :mod:`lerf3d.geometry`'s; poses and intrinsics come from the capture reader.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lerf3d.ground_truth import GroundTruth, GroundTruthObject
from lerf3d.scene_llm.data.questions import QA, QuestionConfig, referable, sample_in_order, sided_questions
from lerf3d.types import Intrinsics


@dataclass(frozen=True, eq=False)
class View:
    """One frame to ask from: its name, pose and camera."""

    name: str
    """Frame name (the capture's, the same as the ground truth's mask names)."""
    camera_to_world: np.ndarray
    """(4, 4) OpenCV camera-to-world."""
    intrinsics: Intrinsics
    """The frame's pinhole camera (the instance mask is at this resolution or scaled to it)."""


@dataclass(frozen=True)
class Span:
    """Horizontal extent of a box seen from one view."""

    col_min: float
    """Leftmost image column of the box's projected corners (pixels)."""
    col_max: float
    """Rightmost image column."""
    x_min: float
    """Smallest camera-frame x of its corners (metres; x points right)."""
    x_max: float
    """Largest camera-frame x."""


def box_corners(obj: GroundTruthObject) -> np.ndarray:
    """(8, 3) corners of an object's world box."""
    return np.array(list(itertools.product(*zip(obj.box_min, obj.box_max))), dtype=np.float64)


def box_span(obj: GroundTruthObject, view: View) -> Span | None:
    """Where ``obj``'s box lies across ``view``; None when part of it is behind the camera (its
    projection would wrap around)."""
    import torch

    from lerf3d.geometry import project_camera_points, to_camera_frame

    camera = to_camera_frame(torch.from_numpy(box_corners(obj)), view.camera_to_world)
    projection = project_camera_points(camera, view.intrinsics)
    if not bool(projection.in_front.all()):
        return None
    cols, x = projection.pixels[:, 0], camera[:, 0]
    return Span(float(cols.min()), float(cols.max()), float(x.min()), float(x.max()))


def left_of(a: Span, b: Span, gap_px: float) -> bool:
    """``a`` is clearly left of ``b``: in the picture (column gap) and in camera x alike."""
    return a.col_max + gap_px < b.col_min and a.x_max < b.x_min


def visible_objects(objects: Sequence[GroundTruthObject], mask: np.ndarray, min_pixels: int
                    ) -> list[GroundTruthObject]:
    """Objects with at least ``min_pixels`` pixels in an instance mask."""
    pixels = np.bincount(mask.ravel(), minlength=1)
    return [o for o in objects if 0 <= o.instance_id < len(pixels) and pixels[o.instance_id] >= min_pixels]


def view_pairs(objects: Sequence[GroundTruthObject], view: View, mask: np.ndarray, cfg: QuestionConfig
               ) -> list[tuple[str, str]]:
    """(left label, right label) of every clearly separated pair of visible ``objects`` in ``view``."""
    spans = {}
    for obj in visible_objects(objects, mask, cfg.min_pixels):
        span = box_span(obj, view)
        if span is not None:
            spans[obj.label] = span
    gap = cfg.ego_gap_fraction * view.intrinsics.width
    return [(a, b) for a, b in itertools.permutations(sorted(spans), 2) if left_of(spans[a], spans[b], gap)]


def ego_relation_questions(
    objects: Sequence[GroundTruthObject], views: Sequence[View], load_mask: Callable[[str], np.ndarray],
    cfg: QuestionConfig, rng: np.random.Generator,
) -> list[QA]:
    """"Seen from this view, is the X left or right of the Y?" from up to ``cfg.max_ego_views``
    random views, at most ``cfg.max_ego_pairs`` in all, as many "left" as "right". Only uniquely
    labelled objects are named; ``load_mask(frame name)`` gives a frame's instance mask."""
    named = referable(objects)
    if len(named) < 2 or not views or cfg.max_ego_pairs == 0:
        return []
    chosen = sample_in_order(list(views), cfg.max_ego_views, rng)
    candidates = [(view.name, pair) for view in chosen
                  for pair in view_pairs(named, view, load_mask(view.name), cfg)]
    picked = sample_in_order(candidates, cfg.max_ego_pairs, rng)
    return sided_questions([pair for _, pair in picked], "ego_side", rng, [name for name, _ in picked])


def capture_views(truth: GroundTruth, capture_dir: str | Path | None = None) -> list[View]:
    """The views of the frames of ``truth`` that have instance masks, read with lerf3d's capture reader
    from ``capture_dir`` (default: the folder of ``ground_truth.json``), in capture order."""
    from lerf3d.capture import CaptureError, load_capture

    folder = Path(capture_dir) if capture_dir is not None else truth.path.parent
    try:
        capture = load_capture(folder, validate=False)
    except CaptureError as err:
        raise ValueError(f"{folder}: no capture poses to ask egocentric questions from ({err}); "
                         "scene-frame questions only: DatasetConfig(egocentric=False)") from None
    return [View(f.name, np.asarray(f.camera_to_world), f.intrinsics) for f in capture.frames
            if f.name in truth.mask_paths]
