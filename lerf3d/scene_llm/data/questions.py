"""Questions and answers generated from a scene's ground truth (Scene-LLM's data, our templates).

Stage 1: one caption per frame, naming the furniture visible in that frame's instance mask.
Stage 2: scene instructions (counting, existence, category/size attributes, nearest object,
left/right and on-top relations, location in the room; left/right from a view is in
:mod:`.egocentric`). Each is written in one of several wordings (:mod:`.wording`). Answers are one
word or a number, already in :func:`lerf3d.scene_llm.data.language.normalise_answer`'s form, so
they are scored by exact match.

Spatial convention, stated in every spatial question: world axes name the walls (generated rooms
are Z up, centred on the origin): **north is the +y wall, east the +x wall**. "Seen from the south
wall" means standing at the -y wall looking north, so left is -x and right is +x.
Objects are referred to by label only when the label is unique in the scene ("the oven" must mean
one thing); ambiguous comparisons (overlapping extents, near ties) are not asked.

Answers are balanced where a prior could stand in for the scene: as many "left" as "right", as many
taller-first as taller-second, as many "yes" as "no", and counting questions spread over 0, 1 and
more (:func:`count_questions`).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lerf3d.ground_truth import GroundTruth, GroundTruthObject
from lerf3d.scene_llm.data.language import counted, join_list, normalise_answer
from lerf3d.scene_llm.data.wording import (
    COMPASS_NOTES,
    EVAL_FAMILIES,
    KIND_TYPE,
    STAGE2_TYPES,
    phrase,
    with_families,
)

COMPASS_NOTE = COMPASS_NOTES[0]
"""The spatial convention in the first family's words (each family states it its own way)."""

CAPTION_PROMPT = "Describe what you see."
"""The stage-1 question: the answer is the frame's caption."""

NOTHING_CAPTION = "I see no furniture."
"""Caption of a frame with no object above the pixel threshold."""

LISTING_TYPE = "listing"
"""Auxiliary stage-2 type, trained only: "list every chair" answered from the tokens' own names
(:mod:`lerf3d.scene_llm.train.listing`); never written into a dataset and never evaluated."""

TYPES = ("caption", *STAGE2_TYPES, LISTING_TYPE)
"""Record types; "caption" is stage 1, the others stage 2 ("ego_relation" is asked from a frame)."""


@dataclass(frozen=True)
class QuestionConfig:
    """Thresholds of question generation."""

    min_pixels: int = 30
    """Pixels of an instance in a frame's mask for it to be named in that frame's caption, or to be
    compared in a question from that frame (30 px is a 5x6 patch: visible at the tiny preset's 96x72,
    where smaller blobs are rendering slivers)."""
    margin_m: float = 0.2
    """Gap (metres) required between compared extents or distances, so no answer hinges on a tie."""
    max_relation_pairs: int = 12
    """At most this many left/right questions per scene (pairs drawn at random)."""
    max_size_pairs: int = 6
    """At most this many "which is taller" questions per scene."""
    max_ego_views: int = 8
    """Frames of a capture drawn at random per scene to ask left/right from (egocentric questions)."""
    max_ego_pairs: int = 12
    """At most this many egocentric left/right questions per scene (over all its drawn frames)."""
    ego_gap_fraction: float = 0.05
    """Egocentric left/right: the two boxes' projected column ranges must be apart by this share of
    the image width (a fraction, so it means the same at every resolution)."""
    balance_counts: bool = True
    """Counting questions spread over 0, 1 and more (:func:`count_questions`); False: every present
    label asked (several times the questions, mostly answered 0 or 1)."""

    def __post_init__(self) -> None:
        if self.min_pixels < 1:
            raise ValueError(f"min_pixels must be >= 1, got {self.min_pixels}")
        if self.margin_m < 0:
            raise ValueError(f"margin_m must be >= 0, got {self.margin_m}")
        for name in ("max_relation_pairs", "max_size_pairs", "max_ego_views", "max_ego_pairs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.ego_gap_fraction < 1:
            raise ValueError(f"ego_gap_fraction must be in [0, 1), got {self.ego_gap_fraction}")


@dataclass(frozen=True)
class QA:
    """One generated question (the scene is added by the caller); its text is written on demand in
    its wording family."""

    type: str
    """One of :data:`TYPES` (not "caption")."""
    kind: str
    """What is asked, a key of :data:`lerf3d.scene_llm.data.wording.PHRASINGS` ("side", "wall")."""
    labels: tuple[str, ...]
    """The object labels the question names, in order."""
    answer: str
    """Short exact-matchable answer, in normal form."""
    family: int = 0
    """Wording family (:mod:`.wording`)."""
    frame: str | None = None
    """The view an egocentric question is asked from; None for scene-frame questions."""

    def __post_init__(self) -> None:
        if KIND_TYPE.get(self.kind) != self.type:
            raise ValueError(f"question kind {self.kind!r} is not of type {self.type!r}")
        normal = normalise_answer(self.answer)
        if normal != self.answer:  # training targets and scoring must agree on the form
            raise ValueError(f"generated {self.type} answer {self.answer!r} is not in normal form "
                             f"(normalise_answer gives {normal!r}): fix the generator or the label")

    @property
    def question(self) -> str:
        """The question text in this record's wording family."""
        return phrase(self.kind, self.family, *self.labels)


def balanced_flags(count: int, rng: np.random.Generator) -> list[bool]:
    """``count`` booleans, half True (the odd one out drawn at random), in random order: which way a
    pair is asked, so that each answer comes up equally often."""
    flags = [i < count // 2 for i in range(count)]
    if count % 2:
        flags[-1] = bool(rng.integers(2))
    return [flags[i] for i in rng.permutation(count)]


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


def count_question(label: str, family: int = 0) -> str:
    """The text of the counting question about ``label`` in wording ``family``."""
    return phrase("count", family, label)


def exists_question(label: str, family: int = 0) -> str:
    """The text of the existence question about ``label`` in wording ``family``."""
    return phrase("exists", family, label)


def count_questions(
    objects: Sequence[GroundTruthObject],
    vocabulary: Sequence[str] = (),
    rng: np.random.Generator | None = None,
    weights: Mapping[str, float] | None = None,
    balance: bool = True,
) -> list[QA]:
    """"How many X", spread over the answers so that neither 0 nor 1 dominates: every label counted
    twice or more, and as many labels counted once and (given a ``vocabulary``) absent labels
    (answer 0, drawn as in :func:`draw_absent`) as there are of those, at least one each. Without
    ``balance`` (or an ``rng``) every present label is asked, and as many absent labels as labels
    counted once (more questions; 0 and 1 then dominate where rooms rarely hold two of a kind)."""
    counts = Counter(o.label for o in objects)
    many = sorted(label for label, n in counts.items() if n > 1)
    ones = sorted(label for label, n in counts.items() if n == 1)
    share = max(1, len(many)) if balance else max(1, len(ones))
    if balance and rng is not None and len(ones) > share:
        ones = sorted(ones[i] for i in rng.choice(len(ones), share, replace=False))
    absent = draw_absent(list(counts), vocabulary, share, rng, weights) if vocabulary and rng else []
    return [QA("count", "count", (label,), str(counts.get(label, 0)))
            for label in sorted(many + ones) + absent]


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
    return [QA("exists", "exists", (label,), answer) for labels, answer in ((yes, "yes"), (no, "no"))
            for label in labels]


def attribute_questions(
    objects: Sequence[GroundTruthObject], cfg: QuestionConfig, rng: np.random.Generator
) -> list[QA]:
    """Category of each uniquely named object, and "which is taller" for clearly different heights
    (the taller named first in half of them)."""
    named = referable(objects)
    out = [QA("attribute", "category", (o.label,), o.category.lower()) for o in named]
    height = {o.instance_id: float(o.box_max[2] - o.box_min[2]) for o in named}
    pairs = [(a, b) if height[a.instance_id] > height[b.instance_id] else (b, a)
             for a, b in itertools.combinations(named, 2)
             if abs(height[a.instance_id] - height[b.instance_id]) > cfg.margin_m]
    chosen = sample_in_order(pairs, cfg.max_size_pairs, rng)
    for (taller, shorter), first in zip(chosen, balanced_flags(len(chosen), rng)):
        order = (taller.label, shorter.label) if first else (shorter.label, taller.label)
        out.append(QA("attribute", "taller", order, taller.label))
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
        out.append(QA("nearest", "nearest", (anchor.label,), others[0][1]))
    return out


def is_on_top(a: GroundTruthObject, b: GroundTruthObject, tolerance_m: float = 0.05) -> bool:
    """``a`` rests on ``b``: its bottom at ``b``'s top (within ``tolerance_m``) and their footprints
    overlap."""
    touching = abs(a.box_min[2] - b.box_max[2]) <= tolerance_m
    overlap = np.all(a.box_min[:2] < b.box_max[:2]) and np.all(b.box_min[:2] < a.box_max[:2])
    return bool(touching and overlap)


def sided_questions(pairs: Sequence[tuple[str, str]], kind: str, rng: np.random.Generator,
                    frames: Sequence[str | None] | None = None) -> list[QA]:
    """Left/right questions of (left label, right label) pairs, half asked "is the left one left of
    the right one" and half the other way round, so "left" and "right" are equally often right."""
    frames = frames if frames is not None else [None] * len(pairs)
    out = []
    for (left, right), frame, ask_left in zip(pairs, frames, balanced_flags(len(pairs), rng), strict=True):
        labels, answer = ((left, right), "left") if ask_left else ((right, left), "right")
        out.append(QA(KIND_TYPE[kind], kind, labels, answer, frame=frame))
    return out


def relation_questions(
    objects: Sequence[GroundTruthObject], cfg: QuestionConfig, rng: np.random.Generator
) -> list[QA]:
    """Left/right seen from the south wall (x extents apart by ``margin_m``; as many "left" as
    "right"), and balanced "is the X on top of the Y" for stacked and non-stacked pairs."""
    named = referable(objects)
    apart = [(a, b) for a, b in itertools.permutations(named, 2)
             if a.box_max[0] + cfg.margin_m < b.box_min[0]]
    chosen = sample_in_order(apart, cfg.max_relation_pairs, rng)  # (left, right) pairs, each pair once
    out = sided_questions([(a.label, b.label) for a, b in chosen], "side", rng)
    stacked = [(a, b) for a, b in itertools.permutations(named, 2) if is_on_top(a, b)]
    loose = []
    for a, b in stacked:  # the same item on another piece: which piece, not which item, decides
        others = [c for c in named
                  if c is not a and c is not b and not is_on_top(a, c) and not is_on_top(c, a)]
        if others:
            loose.append((a, others[int(rng.integers(len(others)))]))
    for pairs, answer in ((stacked[: len(loose)], "yes"), (loose, "no")):
        out.extend(QA("relation", "on_top", (a.label, b.label), answer) for a, b in pairs)
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
            out.append(QA("location", "quarter", (obj.label,), quarter))
        walls = sorted([(obj.box_min[1] - lower[1], "south"), (upper[1] - obj.box_max[1], "north"),
                        (obj.box_min[0] - lower[0], "west"), (upper[0] - obj.box_max[0], "east")])
        if walls[1][0] - walls[0][0] > cfg.margin_m:
            out.append(QA("location", "wall", (obj.label,), walls[0][1]))
    return out


def scene_questions(
    truth: GroundTruth, vocabulary: Sequence[str], cfg: QuestionConfig, rng: np.random.Generator,
    weights: Mapping[str, float] | None = None, families: Sequence[int] = EVAL_FAMILIES,
) -> list[QA]:
    """Every scene-frame stage-2 question of one scene, grouped by type; absent labels for counting
    and existence come from ``vocabulary``, weighted by ``weights`` (see :func:`draw_absent`). Each
    type's questions are spread evenly over the wording ``families`` (training: all but the
    held-out one)."""
    objects = truth.furniture
    qas = (count_questions(objects, vocabulary, rng, weights, cfg.balance_counts)
           + existence_questions(objects, vocabulary, rng, weights)
           + attribute_questions(objects, cfg, rng) + nearest_questions(objects, cfg)
           + relation_questions(objects, cfg, rng) + location_questions(objects, room_bounds(truth), cfg))
    return with_families(qas, families, rng)


def sample_in_order(items: list, count: int, rng: np.random.Generator) -> list:
    """``count`` items drawn without replacement, kept in their original order (all when fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[i] for i in sorted(rng.choice(len(items), count, replace=False))]
