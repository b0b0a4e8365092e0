"""Scoring a scene's objects against its ground truth (``ground_truth.json``).

- **Matching** (one to one, Hungarian on box IoU + point IoU): a predicted object and an annotated
  instance match when their 3D boxes overlap at IoU >= 0.25 or their points at IoU >= 0.5 (the
  ScanNet-style instance thresholds). Annotated points come from the instance masks: every fused
  point takes the instance its depth-tested pixels show most often over the annotated views.
- **Recall**: matched share of the furniture at least ``min_size_m`` across (the larger horizontal
  box side); **precision**: matched share of the predicted objects that size (a predicted object
  matching a smaller annotated item is not a false one).
- **Label top-1**: a matched object's best phrase among the scene's furniture labels is its
  instance's label.
- **Counts**: per label, the instances :func:`lerf3d.objects.counting.instance_counts` finds (objects
  whose best label it is at or above neutral relevancy, touching ones joined) against the annotated
  instances; the share of labels counted exactly, over all labels and over the furniture labels
  (every instance at least ``min_size_m`` across, the size recall is scored at).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from scipy.optimize import linear_sum_assignment

from lerf3d.geometry import project, visible_mask
from lerf3d.ground_truth import GroundTruthObject
from lerf3d.objects.counting import instance_counts
from lerf3d.objects.scene_objects import ObjectLabels, SceneObjects
from lerf3d.query.camera import QueryCamera

BOX_IOU_MATCH = 0.25
"""3D box IoU at which a prediction matches an instance (ScanNet's AP25)."""
POINT_IOU_MATCH = 0.5
"""Point IoU at which a prediction matches an instance (ScanNet's AP50)."""
MIN_SIZE_M = 0.25
"""Furniture at least this wide (larger horizontal side) is scored for recall and precision."""


def box_iou_matrix(
    lower_a: Float[np.ndarray, "A 3"], upper_a: Float[np.ndarray, "A 3"],
    lower_b: Float[np.ndarray, "B 3"], upper_b: Float[np.ndarray, "B 3"],
) -> Float[np.ndarray, "A B"]:
    """IoU of every pair of axis-aligned 3D boxes."""
    lo = np.maximum(lower_a[:, None], lower_b[None])  # (A, B, 3)
    hi = np.minimum(upper_a[:, None], upper_b[None])
    inter = np.clip(hi - lo, 0, None).prod(axis=-1)  # (A, B)
    vol_a = np.clip(upper_a - lower_a, 0, None).prod(axis=-1)
    vol_b = np.clip(upper_b - lower_b, 0, None).prod(axis=-1)
    union = vol_a[:, None] + vol_b[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def point_iou_matrix(
    predicted: Int[np.ndarray, " N"], annotated: Int[np.ndarray, " N"], num_pred: int, instance_ids: Sequence[int]
) -> Float[np.ndarray, "A B"]:
    """Point IoU of each predicted object (ids 0..num_pred-1, -1 none) with each annotated instance
    (``instance_ids``, rows in that order) over the same points."""
    ids = np.asarray(list(instance_ids), dtype=np.int64)
    column = np.full(int(annotated.max(initial=0)) + 1, -1, dtype=np.int64)
    column[ids[ids <= annotated.max(initial=0)]] = np.nonzero(ids <= annotated.max(initial=0))[0]
    gt_col = np.where(annotated >= 0, column[np.clip(annotated, 0, None)], -1)
    both = (predicted >= 0) & (gt_col >= 0)
    inter = np.zeros((len(ids), num_pred))
    np.add.at(inter, (gt_col[both], predicted[both]), 1)
    gt_size = np.bincount(gt_col[gt_col >= 0], minlength=len(ids)).astype(float)
    pred_size = np.bincount(predicted[predicted >= 0], minlength=num_pred).astype(float)
    union = gt_size[:, None] + pred_size[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def annotate_points(
    xyz: Float[torch.Tensor, "N 3"], views: Sequence[tuple[QueryCamera, np.ndarray]]
) -> Int[np.ndarray, " N"]:
    """Instance id of each point by a vote of the annotated views that see it (0: none seen it)."""
    votes: dict[int, np.ndarray] = {}
    points = xyz.float().cpu()
    for camera, mask in views:
        if camera.depth is None:
            raise ValueError(f"view {camera.name}: annotating points needs its measured depth")
        depth = torch.as_tensor(camera.depth, dtype=torch.float32)
        seen = visible_mask(points, camera.camera_to_world, camera.intrinsics, depth).numpy()
        k = camera.intrinsics.scaled(mask.shape[1], mask.shape[0])
        pixels = project(points[seen], camera.camera_to_world, k).pixels.numpy()
        cols = np.clip(np.floor(pixels[:, 0]).astype(int), 0, mask.shape[1] - 1)
        rows = np.clip(np.floor(pixels[:, 1]).astype(int), 0, mask.shape[0] - 1)
        ids = mask[rows, cols]
        where = np.nonzero(seen)[0]
        for instance in np.unique(ids):
            if instance == 0:
                continue
            tally = votes.setdefault(int(instance), np.zeros(len(points), dtype=np.int32))
            tally[where[ids == instance]] += 1
    if not votes:
        return np.zeros(len(points), dtype=np.int64)
    order = sorted(votes)
    stacked = np.stack([votes[i] for i in order])  # (I, N)
    best = stacked.argmax(axis=0)
    return np.where(stacked.max(axis=0) > 0, np.asarray(order)[best], 0)


def horizontal_size(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The larger horizontal (x/y) side of each box (z is up)."""
    return (upper[..., :2] - lower[..., :2]).max(axis=-1)


@dataclass(frozen=True)
class ObjectEvaluation:
    """The object layer's figures on one scene."""

    scene: str
    recall: float
    """Matched share of the annotated furniture at least ``min_size_m`` across."""
    precision: float
    """Matched share of the predicted objects at least ``min_size_m`` across."""
    label_top1: float
    """Matched objects whose best label is their instance's."""
    count_exact: float
    """Share of the scene's labels whose count is exact."""
    count_exact_furniture: float
    """Share of the furniture labels (every instance at least ``min_size_m`` across) whose count is
    exact (NaN when the scene has none)."""
    small_labels: tuple[str, ...]
    """The scene's labels with an instance under ``min_size_m`` across (tabletop items), sorted; the
    rest are its furniture labels."""
    num_annotated: int
    """Annotated furniture scored for recall."""
    num_predicted: int
    """Predicted objects scored for precision."""
    counts: dict[str, tuple[int, int]]
    """Label -> (predicted, annotated) count."""
    matches: tuple[tuple[int, int], ...]
    """(object index, instance id) pairs."""

    @property
    def num_furniture_labels(self) -> int:
        """Furniture labels scored for ``count_exact_furniture``."""
        return sum(1 for label in self.counts if label not in self.small_labels)

    def row(self) -> str:
        return (f"| {self.scene} | {self.recall:.2f} ({self.num_annotated}) | {self.precision:.2f} "
                f"({self.num_predicted}) | {self.label_top1:.2f} | {self.count_exact:.2f} | "
                f"{self.count_exact_furniture:.2f} |")


TABLE_HEADER = ("| scene | recall (furniture) | precision (objects) | label top-1 | counts exact | "
                "counts exact (furniture) |\n|---|---|---|---|---|---|")


def evaluate_objects(
    objects: SceneObjects,
    labels: ObjectLabels,
    furniture: Sequence[GroundTruthObject],
    annotated_points: Int[np.ndarray, " N"],
    scene: str = "scene",
    min_size_m: float = MIN_SIZE_M,
) -> ObjectEvaluation:
    """Match, then score recall, precision, label top-1 and counts (module docstring)."""
    lower, upper = objects.box_min.numpy(), objects.box_max.numpy()
    gt_lower = np.array([o.box_min for o in furniture]).reshape(-1, 3)
    gt_upper = np.array([o.box_max for o in furniture]).reshape(-1, 3)
    box = box_iou_matrix(gt_lower, gt_upper, lower, upper)  # (G, K)
    pts = point_iou_matrix(objects.point_object.numpy(), annotated_points, len(objects),
                           [o.instance_id for o in furniture])
    valid = (box >= BOX_IOU_MATCH) | (pts >= POINT_IOU_MATCH)
    weight = np.where(valid, box + pts, 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True) if weight.size else ([], [])
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if valid[r, c]]
    gt_large = horizontal_size(gt_lower, gt_upper) >= min_size_m
    pred_large = horizontal_size(lower, upper) >= min_size_m
    matched_gt = {r for r, _ in pairs}
    matched_pred = {c for _, c in pairs}
    recall = sum(1 for g in np.nonzero(gt_large)[0] if g in matched_gt) / max(1, int(gt_large.sum()))
    precision = sum(1 for k in np.nonzero(pred_large)[0] if k in matched_pred) / max(1, int(pred_large.sum()))
    best = labels.best()
    label_hits = [best[c] == furniture[r].label for r, c in pairs]
    top1 = float(np.mean(label_hits)) if label_hits else 0.0
    found, _ = instance_counts(objects, labels)
    counts = {phrase: (found[phrase], sum(1 for o in furniture if o.label == phrase)) for phrase in labels.phrases}
    small = tuple(sorted({furniture[g].label for g in np.nonzero(~gt_large)[0]}))
    exact = float(np.mean([p == a for p, a in counts.values()])) if counts else 0.0
    large = [p == a for label, (p, a) in counts.items() if label not in small]
    exact_large = float(np.mean(large)) if large else float("nan")
    return ObjectEvaluation(scene, recall, precision, top1, exact, exact_large, small, int(gt_large.sum()),
                            int(pred_large.sum()), counts, tuple((c, furniture[r].instance_id) for r, c in pairs))
