"""The viewer's side of the object layer: the scene's objects as boxes with their best labels against
any vocabulary, and object mode, where a phrase selects whole objects.

In object mode every object gets one relevancy per phrase (:meth:`ObjectScorer.object_scores`);
the rendered view shows it over the object's pixels (:meth:`ObjectScorer.maps`) and the shown points
take the relevancy of the object they belong to, so the page paints both exactly like a per-pixel
answer and lights the boxes of the objects over its threshold.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.objects.counting import instance_counts
from lerf3d.objects.scene_objects import ObjectLabels, SceneObjects
from lerf3d.objects.scorer import SNAP_TOLERANCE_M, ObjectScorer
from lerf3d.query.camera import QueryCamera
from lerf3d.query.relevancy import NEUTRAL_RELEVANCY
from viewer.images import float32_b64
from viewer.protocol import RequestError


def points_to_objects(xyz: np.ndarray, objects: SceneObjects, tolerance_m: float = SNAP_TOLERANCE_M) -> np.ndarray:
    """Object index of each shown point: that of the nearest object-layer point within
    ``tolerance_m`` (-1: the room's shell, or nothing near). The shown points are a subset of the
    fused points the objects were cut from, but a differently fused set still maps."""
    out = np.full(len(xyz), -1, dtype=np.int64)
    if len(objects.xyz) == 0 or len(xyz) == 0:
        return out
    distance, nearest = cKDTree(objects.xyz.numpy()).query(np.asarray(xyz, np.float64), k=1,
                                                           distance_upper_bound=tolerance_m)
    hit = np.isfinite(distance)
    out[hit] = objects.point_object.numpy()[nearest[hit]]
    return out


def value_range(values: np.ndarray) -> dict[str, Any]:
    """Min, max and the float32 values, as the page reads a relevancy map."""
    if values.size == 0:
        return {"max": 0.0, "min": 0.0, "values": float32_b64(values.astype(np.float32))}
    return {"max": float(values.max()), "min": float(values.min()), "values": float32_b64(values)}


class ViewerObjects:
    """The scene's objects, labelled and queried under the viewer's session lock (the encoder and
    the scorer's view cache are shared with every client)."""

    def __init__(self, objects: SceneObjects, encoder: ImageTextEncoder, shown_xyz: np.ndarray,
                 lock: threading.Lock) -> None:
        self.objects = objects
        self.scorer = ObjectScorer(objects, encoder)
        self.lock = lock
        self.shown_object = points_to_objects(shown_xyz, objects)
        self._sizes = torch.bincount(objects.point_object[objects.point_object >= 0],
                                     minlength=len(objects)).tolist()

    def __len__(self) -> int:
        return len(self.objects)

    def labels(self, phrases: tuple[str, ...]) -> ObjectLabels:
        """Every object scored against ``phrases`` (LERF relevancy, canonical negatives)."""
        try:
            with self.lock:
                scores = self.scorer.object_scores(phrases)
        except ValueError as err:
            raise RequestError(str(err)) from None
        return ObjectLabels(phrases, scores)

    def listing(self, phrases: tuple[str, ...], top: int) -> dict[str, Any]:
        """``POST /api/objects``: each object's box, centroid and best labels, and the instances per
        best label over 0.5 (:func:`lerf3d.objects.counting.instance_counts`; no labels when
        ``phrases`` is empty, then every object is unlabelled)."""
        objects = self.objects
        labels = self.labels(phrases) if phrases else None
        rows = []
        for i in range(len(objects)):
            best = [] if labels is None else [{"label": p, "score": s} for p, s in labels.top(i, top)]
            rows.append({
                "id": i, "box_min": objects.box_min[i].tolist(), "box_max": objects.box_max[i].tolist(),
                "centroid": objects.centroid[i].tolist(), "colour": objects.colour[i].tolist(),
                "confidence": float(objects.confidence[i]), "views": len(objects.views[i]),
                "points": self._sizes[i], "best": best,
            })
        counts, unlabelled = instance_counts(objects, labels) if labels is not None else ({}, len(objects))
        return {"count": len(objects), "labels": list(phrases), "objects": rows, "counts": counts,
                "unlabelled": unlabelled}

    def answer(self, camera: QueryCamera | None, phrases: tuple[str, ...]) -> list[dict[str, Any]]:
        """Object mode: per phrase, every object's relevancy, the objects it selects (over LERF's
        neutral 0.5, best first), the shown points' values and (with a camera) the view's map."""
        try:
            with self.lock:
                scores = self.scorer.object_scores(phrases)  # (K, P)
                maps = self.scorer.maps(camera, phrases) if camera is not None else None
        except ValueError as err:
            raise RequestError(str(err)) from None
        padded = torch.cat([scores, scores.new_zeros(1, len(phrases))]).numpy()  # row K: no object
        rows = np.where(self.shown_object >= 0, self.shown_object, len(self.objects))
        results = []
        for p, phrase in enumerate(phrases):
            column = padded[:-1, p]
            selected = [int(i) for i in np.argsort(-column, kind="stable") if column[i] >= NEUTRAL_RELEVANCY]
            entry: dict[str, Any] = {
                "phrase": phrase,
                "objects": {"scores": [float(v) for v in column], "selected": selected},
                "points": {"scale": None, **value_range(padded[rows, p].astype(np.float32))},
            }
            if maps is not None:
                entry["view"] = {"scale": None, **value_range(maps[p].values.float().numpy())}
            results.append(entry)
        return results
