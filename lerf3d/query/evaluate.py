"""Open-vocabulary localisation and segmentation of furniture, scored against ground-truth masks.

Protocol, per view (held-out and training) and per furniture label visible in it (its union mask
covers at least ``min_mask_fraction`` of the image), one relevancy map per method:

- **localisation** (LERF, Kerr et al. 2023, sec. 5.2): a hit when the arg-max pixel of the relevancy
  map lies inside the label's mask (any instance with that label);
- **IoU** (LangSplat, Qin et al. 2024, sec. 5): the map is min-max normalised to [0, 1] per map,
  thresholded at 0.5 (``iou_threshold``), and compared with the union mask of the label. (LangSplat's
  own script also smooths the map first and cuts higher; we use the plain 0.5 cut.)

Localisation accuracy and mIoU are means over (view, label) pairs, per method, per split and per
phrase. Methods are anything with ``name`` and ``maps(camera, phrases)`` (:class:`ViewScorer`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import torch
from jaxtyping import Bool, Float, Int

from lerf3d.query.camera import QueryCamera
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, RelevancyMap
from lerf3d.query.session import QuerySession

IOU_THRESHOLD = 0.5
"""Cut on the per-map min-max normalised relevancy (LangSplat-style; stated in the module docstring)."""
MIN_MASK_FRACTION = 0.001
"""A label counts as visible when its mask covers >= 0.1 % of the image (7 pixels at the demo's
96x72): smaller slivers are aliasing at an object's edge, not something one could point at."""
SPLITS = ("held_out", "train")


class ViewScorer(Protocol):
    """A method that turns a view and phrases into relevancy maps of the view's size."""

    name: str

    def maps(self, camera: QueryCamera, phrases: Sequence[str],
             negatives: Sequence[str] = CANONICAL_NEGATIVES) -> list[RelevancyMap]: ...


class FieldScorer:
    """The trained language field through a QuerySession (views not cached: each is visited once)."""

    name = "lerf3d-field"

    def __init__(self, session: QuerySession) -> None:
        self.session = session

    def maps(self, camera: QueryCamera, phrases: Sequence[str],
             negatives: Sequence[str] = CANONICAL_NEGATIVES) -> list[RelevancyMap]:
        return self.session.query(camera, phrases, negatives, use_cache=False)


@dataclass(frozen=True, eq=False)
class EvalFrame:
    """One annotated view."""

    camera: QueryCamera
    """The view (with its measured depth: every method may use it)."""
    split: str
    """"train" or "held_out"."""
    instance_mask: Int[np.ndarray, "H W"]
    """Instance id per pixel (0 = nothing)."""
    labels: Mapping[int, str]
    """Instance id -> label, furniture only (structure left out)."""

    def __post_init__(self) -> None:
        shape = (self.camera.intrinsics.height, self.camera.intrinsics.width)
        if self.instance_mask.shape != shape:
            raise ValueError(f"view {self.camera.name}: mask {self.instance_mask.shape} vs image {shape}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")


@dataclass(frozen=True)
class PhraseScore:
    """The score of one method for one label on one view."""

    method: str
    view: str
    split: str
    phrase: str
    hit: bool
    """Arg-max pixel inside the label's mask."""
    iou: float
    """IoU of the thresholded normalised map with the label's union mask."""
    scale: float | None
    """Scale (m) the method chose."""
    mask_pixels: int
    """Pixels of the label's union mask."""


def visible_labels(
    frame: EvalFrame, min_fraction: float = MIN_MASK_FRACTION
) -> dict[str, Bool[np.ndarray, "H W"]]:
    """Label -> union mask of its instances, for labels covering at least ``min_fraction`` of the view."""
    masks: dict[str, np.ndarray] = {}
    for instance_id, label in frame.labels.items():
        mask = frame.instance_mask == instance_id
        masks[label] = masks[label] | mask if label in masks else mask
    minimum = min_fraction * frame.instance_mask.size
    return {label: mask for label, mask in sorted(masks.items()) if mask.sum() >= max(minimum, 1)}


def localisation_hit(values: Float[torch.Tensor, "H W"], mask: Bool[np.ndarray, "H W"]) -> bool:
    """Whether the (first) arg-max of ``values`` lies inside ``mask``."""
    flat = int(torch.argmax(values.reshape(-1)))
    return bool(mask.reshape(-1)[flat])


def normalised_prediction(
    values: Float[torch.Tensor, "H W"], threshold: float = IOU_THRESHOLD
) -> Bool[np.ndarray, "H W"]:
    """Pixels whose min-max normalised relevancy exceeds ``threshold`` (a constant map predicts nothing)."""
    v = values.detach().float().cpu().numpy()
    low, high = float(v.min()), float(v.max())
    if high <= low:
        return np.zeros(v.shape, bool)
    return (v - low) / (high - low) > threshold


def iou(prediction: Bool[np.ndarray, "H W"], mask: Bool[np.ndarray, "H W"]) -> float:
    """Intersection over union (0 when both are empty)."""
    union = np.logical_or(prediction, mask).sum()
    return float(np.logical_and(prediction, mask).sum() / union) if union else 0.0


def score_frame(
    frame: EvalFrame, scorer: ViewScorer, iou_threshold: float = IOU_THRESHOLD,
    min_fraction: float = MIN_MASK_FRACTION,
) -> list[PhraseScore]:
    """Scores of one method on every visible label of one view (all labels queried in one call)."""
    labels = visible_labels(frame, min_fraction)
    if not labels:
        return []
    maps = scorer.maps(frame.camera, list(labels))
    scores = []
    for m in maps:
        mask = labels[m.phrase]
        if tuple(m.values.shape) != mask.shape:
            raise ValueError(f"{scorer.name} gave a {tuple(m.values.shape)} map for a {mask.shape} view")
        prediction = normalised_prediction(m.values, iou_threshold)
        scores.append(PhraseScore(scorer.name, frame.camera.name, frame.split, m.phrase,
                                  localisation_hit(m.values, mask), iou(prediction, mask), m.scale,
                                  int(mask.sum())))
    return scores


def evaluate_frames(
    frames: Sequence[EvalFrame], scorers: Sequence[ViewScorer], iou_threshold: float = IOU_THRESHOLD,
    min_fraction: float = MIN_MASK_FRACTION,
) -> list[PhraseScore]:
    """Every method on every view."""
    return [score for frame in frames for scorer in scorers
            for score in score_frame(frame, scorer, iou_threshold, min_fraction)]


@dataclass(frozen=True)
class SummaryRow:
    """Means over a group of PhraseScores."""

    method: str
    by: str
    """What the rows are grouped by: "all", "split" or "phrase"."""
    group: str
    """"all", a split name, or a phrase."""
    count: int
    """(view, label) pairs in the group."""
    localisation: float
    """Fraction of hits."""
    miou: float
    """Mean IoU."""


def summarise(scores: Sequence[PhraseScore], by: str) -> list[SummaryRow]:
    """Rows per method and per value of ``by`` ("all", "split" or "phrase"), methods in input order."""
    if by not in ("all", "split", "phrase"):
        raise ValueError(f"summarise by 'all', 'split' or 'phrase', got {by!r}")
    groups: dict[tuple[str, str], list[PhraseScore]] = defaultdict(list)
    for s in scores:
        groups[(s.method, "all" if by == "all" else getattr(s, by))].append(s)
    return [
        SummaryRow(method, by, group, len(items), float(np.mean([i.hit for i in items])),
                   float(np.mean([i.iou for i in items])))
        for (method, group), items in groups.items()
    ]


def markdown_tables(scores: Sequence[PhraseScore], scene: str) -> str:
    """Overall, per-split and per-phrase tables (markdown), one row per method and group."""
    lines = [f"### {scene}: localisation accuracy and mIoU", "",
             "| method | group | pairs | localisation | mIoU |", "|---|---|---|---|---|"]
    for by in ("all", "split", "phrase"):
        rows = summarise(scores, by)
        if by != "all":
            rows = sorted(rows, key=lambda r: (r.group, r.method))
        lines += [f"| {r.method} | {r.group} | {r.count} | {r.localisation:.3f} | {r.miou:.3f} |"
                  for r in rows]
    return "\n".join(lines)


def report_json(scores: Sequence[PhraseScore], scene: str, iou_threshold: float, min_fraction: float) -> dict:
    """Everything the tables show, plus every (method, view, label) score and the protocol."""
    return {
        "scene": scene,
        "protocol": {
            "localisation": "arg-max pixel of the relevancy map inside the label's union mask (LERF)",
            "iou": f"per-map min-max normalisation, threshold {iou_threshold}, vs the label's union mask "
                   "(LangSplat-style)",
            "min_mask_fraction": min_fraction,
        },
        "summary": [asdict(r) for by in ("all", "split", "phrase") for r in summarise(scores, by)],
        "scores": [asdict(s) for s in scores],
    }
