"""Questions and answers generated from a scene's ground truth (Scene-LLM's data, our templates).

Stage 1: one caption per frame, naming the furniture visible in that frame's instance mask.
Stage 2: scene instructions (counting, existence, category/size attributes, nearest object,
left/right and on-top relations, location in the room). Answers are one word or a number, so they
can be scored by exact match after :func:`lerf3d.scene_llm.data.language.normalise_answer`.

Spatial convention, stated in every spatial question: world axes name the walls (generated rooms
are Z up, centred on the origin): **north is the +y wall, east the +x wall**. "Seen from the south
wall" means standing at the -y wall looking north, so left is -x and right is +x.
Objects are referred to by label only when the label is unique in the scene ("the oven" must mean
one thing); ambiguous comparisons (overlapping extents, near ties) are not asked.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lerf3d.ground_truth import GroundTruth, GroundTruthObject
from lerf3d.scene_llm.data.language import counted, is_the, join_list, plural, there_is

COMPASS_NOTE = "(north is the +y wall, east is the +x wall)"
"""The spatial convention, appended to location questions so the question states its frame."""

CAPTION_PROMPT = "Describe what you see."
"""The stage-1 question: the answer is the frame's caption."""

NOTHING_CAPTION = "I see no furniture."
"""Caption of a frame with no object above the pixel threshold."""

TYPES = ("caption", "count", "exists", "attribute", "nearest", "relation", "location")
"""Record types; "caption" is stage 1, the others stage 2."""


@dataclass(frozen=True)
class QuestionConfig:
    """Thresholds of question generation."""

    min_pixels: int = 30
    """Pixels of an instance in a frame's mask for it to be named in that frame's caption (30 px is
    a 5x6 patch: visible at the tiny preset's 96x72, where smaller blobs are rendering slivers)."""
    margin_m: float = 0.2
    """Gap (metres) required between compared extents or distances, so no answer hinges on a tie."""
    max_relation_pairs: int = 12
    """At most this many left/right questions per scene (pairs drawn at random)."""
    max_size_pairs: int = 6
    """At most this many "which is taller" questions per scene."""

    def __post_init__(self) -> None:
        if self.min_pixels < 1:
            raise ValueError(f"min_pixels must be >= 1, got {self.min_pixels}")
        if self.margin_m < 0:
            raise ValueError(f"margin_m must be >= 0, got {self.margin_m}")
        if self.max_relation_pairs < 0 or self.max_size_pairs < 0:
            raise ValueError("max_relation_pairs and max_size_pairs must be >= 0")


@dataclass(frozen=True)
class QA:
    """One generated question (scene and frame are added by the caller)."""

    type: str
    """One of :data:`TYPES`."""
    question: str
    """The question text."""
    answer: str
    """Short exact-matchable answer."""


def caption_text(label_counts: Sequence[tuple[str, int]]) -> str:
    """"I see two chairs, an oven and a lamp." (in the given order)."""
    if not label_counts:
        return NOTHING_CAPTION
    return f"I see {join_list([counted(label, n) for label, n in label_counts])}."


def frame_caption(truth: GroundTruth, frame_name: str, min_pixels: int) -> str:
    """Caption of one frame: furniture with >= ``min_pixels`` pixels, largest first."""
    mask = truth.load_mask(frame_name)
    pixels = np.bincount(mask.ravel(), minlength=1)
    seen = [(int(pixels[o.instance_id]), o.label) for o in truth.furniture
            if o.instance_id < len(pixels) and pixels[o.instance_id] >= min_pixels]
    order: dict[str, int] = {}
    for _, label in sorted(seen, key=lambda s: (-s[0], s[1])):
        order[label] = order.get(label, 0) + 1
    return caption_text(list(order.items()))


def referable(objects: Sequence[GroundTruthObject]) -> list[GroundTruthObject]:
    """Objects whose label is unique among ``objects`` (so "the <label>" names one thing)."""
    counts = Counter(o.label for o in objects)
    return [o for o in objects if counts[o.label] == 1]


def draw_absent(
    present: Sequence[str], vocabulary: Sequence[str], count: int, rng: np.random.Generator,
    weights: Mapping[str, float] | None = None,
) -> list[str]:
    """Up to ``count`` distinct labels of ``vocabulary`` absent from ``present``, sorted. With
    ``weights`` (e.g. in how many rooms each label occurs) a label is drawn in proportion to its
    weight and never at weight 0: then a label is asked about as often where it is absent as where it
    is present, and the question alone does not give the answer away."""
    absent = sorted(set(vocabulary) - set(present))
    if weights is not None:
        absent = [label for label in absent if weights.get(label, 0) > 0]
    count = min(count, len(absent))
    if count == 0:
        return []
    p = None
    if weights is not None:
        p = np.array([weights[label] for label in absent], float)
        p /= p.sum()
    return sorted(absent[i] for i in rng.choice(len(absent), count, replace=False, p=p))


def count_question(label: str) -> str:
    """The text of the counting question about ``label``."""
    return f"How many {plural(label)} are there in the room?"


def exists_question(label: str) -> str:
    """The text of the existence question about ``label``."""
    return f"{there_is(label)} in the room?"


def count_questions(
    objects: Sequence[GroundTruthObject],
    vocabulary: Sequence[str] = (),
    rng: np.random.Generator | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[QA]:
    """"How many X" for every label present, and (given a ``vocabulary``) as many absent labels
    (answer 0), drawn as in :func:`draw_absent`."""
    counts = Counter(o.label for o in objects)
    absent = draw_absent(list(counts), vocabulary, len(counts), rng, weights) if vocabulary else []
    return [QA("count", count_question(label), str(counts.get(label, 0)))
            for label in sorted(counts) + absent]


def existence_questions(
    objects: Sequence[GroundTruthObject], vocabulary: Sequence[str], rng: np.random.Generator,
    weights: Mapping[str, float] | None = None,
) -> list[QA]:
    """As many "yes" as "no": present labels, and absent labels drawn from ``vocabulary`` as in
    :func:`draw_absent`."""
    present = sorted({o.label for o in objects})
    no = draw_absent(present, vocabulary, len(present), rng, weights)
    count = len(no)
    yes = [present[i] for i in sorted(rng.choice(len(present), count, replace=False))] if count else []
    return [QA("exists", exists_question(label), answer)
            for labels, answer in ((yes, "yes"), (no, "no")) for label in labels]


def attribute_questions(
    objects: Sequence[GroundTruthObject], cfg: QuestionConfig, rng: np.random.Generator
) -> list[QA]:
    """Category of each uniquely named object, and "which is taller" for clearly different heights."""
    named = referable(objects)
    out = [QA("attribute", f"What kind of furniture is the {o.label}? Answer with its category.",
              o.category.lower()) for o in named]
    height = {o.instance_id: float(o.box_max[2] - o.box_min[2]) for o in named}
    pairs = [(a, b) for a, b in itertools.combinations(named, 2)
             if abs(height[a.instance_id] - height[b.instance_id]) > cfg.margin_m]
    for a, b in _sample(pairs, cfg.max_size_pairs, rng):
        taller = a if height[a.instance_id] > height[b.instance_id] else b
        out.append(QA("attribute", f"Which is taller, the {a.label} or the {b.label}?", taller.label))
    return out


def box_gap(a: GroundTruthObject, b: GroundTruthObject) -> float:
    """Euclidean gap between two axis-aligned boxes (0 when they touch or overlap)."""
    gap = np.maximum(0.0, np.maximum(a.box_min - b.box_max, b.box_min - a.box_max))
    return float(np.linalg.norm(gap))


def nearest_questions(objects: Sequence[GroundTruthObject], cfg: QuestionConfig) -> list[QA]:
    """"Which object is nearest to the X?" when the nearest is clearly nearer than the runner-up."""
    out = []
    for anchor in referable(objects):
        others = sorted((box_gap(anchor, o), o.label) for o in objects if o is not anchor)
        if not others:
            continue
        # a runner-up with the same label gives the same answer: it is no tie
        rivals = [d for d, label in others[1:] if label != others[0][1]]
        if rivals and rivals[0] - others[0][0] <= cfg.margin_m:
            continue
        out.append(QA("nearest", f"Which object is nearest to the {anchor.label}?", others[0][1]))
    return out


def is_on_top(a: GroundTruthObject, b: GroundTruthObject, tolerance_m: float = 0.05) -> bool:
    """``a`` rests on ``b``: its bottom at ``b``'s top (within ``tolerance_m``) and their footprints
    overlap."""
    touching = abs(a.box_min[2] - b.box_max[2]) <= tolerance_m
    overlap = np.all(a.box_min[:2] < b.box_max[:2]) and np.all(b.box_min[:2] < a.box_max[:2])
    return bool(touching and overlap)


def relation_questions(
    objects: Sequence[GroundTruthObject], cfg: QuestionConfig, rng: np.random.Generator
) -> list[QA]:
    """Left/right seen from the south wall (x extents apart by ``margin_m``), and balanced
    "is the X on top of the Y" for stacked and non-stacked pairs."""
    named = referable(objects)
    apart = [(a, b) for a, b in itertools.permutations(named, 2)
             if a.box_max[0] + cfg.margin_m < b.box_min[0] or b.box_max[0] + cfg.margin_m < a.box_min[0]]
    out = []
    for a, b in _sample(apart, cfg.max_relation_pairs, rng):
        side = "left" if a.box_max[0] < b.box_min[0] else "right"
        out.append(QA("relation", f"Seen from the south wall, is the {a.label} to the left or to the "
                                  f"right of the {b.label}?", side))
    stacked = [(a, b) for a, b in itertools.permutations(named, 2) if is_on_top(a, b)]
    loose = []
    for a, b in stacked:  # the same item on another piece: which piece, not which item, decides
        others = [c for c in named
                  if c is not a and c is not b and not is_on_top(a, c) and not is_on_top(c, a)]
        if others:
            loose.append((a, others[int(rng.integers(len(others)))]))
    for pairs, answer in ((stacked[: len(loose)], "yes"), (loose, "no")):
        out.extend(QA("relation", f"{is_the(a.label)} on top of the {b.label}?", answer) for a, b in pairs)
    return out


def room_bounds(truth: GroundTruth) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) xy corners of the floor (of every box when there is no floor)."""
    floors = [o for o in truth.objects if o.label == "floor"] or list(truth.objects)
    lower = np.min([o.box_min[:2] for o in floors], axis=0)
    upper = np.max([o.box_max[:2] for o in floors], axis=0)
    return lower, upper


def location_questions(
    objects: Sequence[GroundTruthObject], bounds: tuple[np.ndarray, np.ndarray], cfg: QuestionConfig
) -> list[QA]:
    """Quarter of the room and nearest wall, asked only away from the midlines / near ties."""
    lower, upper = bounds
    middle = (lower + upper) / 2
    out = []
    for obj in referable(objects):
        cx, cy = obj.center[:2]
        if abs(cx - middle[0]) > cfg.margin_m and abs(cy - middle[1]) > cfg.margin_m:
            quarter = ("north" if cy > middle[1] else "south") + "-" + ("east" if cx > middle[0] else "west")
            out.append(QA("location", f"In which quarter of the room is the {obj.label}: north-east, "
                                      f"north-west, south-east or south-west? {COMPASS_NOTE}", quarter))
        walls = sorted([(obj.box_min[1] - lower[1], "south"), (upper[1] - obj.box_max[1], "north"),
                        (obj.box_min[0] - lower[0], "west"), (upper[0] - obj.box_max[0], "east")])
        if walls[1][0] - walls[0][0] > cfg.margin_m:
            out.append(QA("location", f"Which wall is the {obj.label} closest to: north, south, east or "
                                      f"west? {COMPASS_NOTE}", walls[0][1]))
    return out


def scene_questions(
    truth: GroundTruth, vocabulary: Sequence[str], cfg: QuestionConfig, rng: np.random.Generator,
    weights: Mapping[str, float] | None = None,
) -> list[QA]:
    """Every stage-2 question of one scene, grouped by type; absent labels for counting and
    existence come from ``vocabulary``, weighted by ``weights`` (see :func:`draw_absent`)."""
    objects = truth.furniture
    return (count_questions(objects, vocabulary, rng, weights)
            + existence_questions(objects, vocabulary, rng, weights)
            + attribute_questions(objects, cfg, rng) + nearest_questions(objects, cfg)
            + relation_questions(objects, cfg, rng) + location_questions(objects, room_bounds(truth), cfg))


def _sample(items: list, count: int, rng: np.random.Generator) -> list:
    """``count`` items drawn without replacement, kept in their original order (all when fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[i] for i in sorted(rng.choice(len(items), count, replace=False))]
