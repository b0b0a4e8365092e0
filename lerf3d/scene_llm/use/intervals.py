"""How far a Scene-LLM evaluation's figures owe to which rooms were drawn, and whether two runs differ.

A run's answers in one room share that room's tokens (one segmentation, one set of crops), so its
questions are not independent: the room is the unit resampled (:mod:`lerf3d.stats`). Each exact
match figure gets a percentile interval over the evaluated rooms, and two evaluations of the same
questions (two trainings, or one run before and after a change) are compared question by question
with the rooms resampled together for both: a difference whose interval holds 0 is within what the
draw of rooms moves, which says nothing yet of how far a second training of the same recipe would
move it.

    lerf3d llm-eval RUN DATASET --against OTHER_RUN/eval_test.json
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.language import answers_match
from lerf3d.scene_llm.data.wording import is_held_out_wording
from lerf3d.stats import INTERVAL_LEVEL, paired_room_bootstrap, room_bootstrap

ALL = "all"
"""The key of the figure over every question."""
WORDING_ROWS = (("trained wordings", False), ("held-out wording", True))
"""The scene model's rows apart by wording: (row name after the method's, held-out family or not)."""


@dataclass(frozen=True)
class Outcome:
    """Whether one question was answered right: what intervals and comparisons read."""

    scene: str
    """The question's room."""
    type: str
    """Its question type."""
    question: str
    """Its text (so two reports are checked to hold the same questions)."""
    held_out: bool
    """Asked in the wording family no training question uses."""
    right: bool
    """The prediction matched the answer (``normalise_answer`` equality)."""
    answer: str = ""
    """The expected answer as the dataset states it ("" in reports written before they kept it)."""
    prediction: str = ""
    """What the model wrote, grounding included, so a report can be read answer by answer."""


def answer_outcomes(records: Sequence[QARecord], predictions: Sequence[str],
                    vocabulary: Sequence[str] = ()) -> list[Outcome]:
    """One :class:`Outcome` per question, scored as ``exact_match_scores`` scores it."""
    return [Outcome(r.scene, r.type, r.question, is_held_out_wording(r), answers_match(p, r.answer, vocabulary),
                    r.answer, p)
            for r, p in zip(records, predictions, strict=True)]


def _groups(outcomes: Sequence[Outcome]) -> dict[str, list[int]]:
    """Indices of the outcomes per question type, and of all of them under :data:`ALL`."""
    groups: dict[str, list[int]] = {ALL: list(range(len(outcomes)))}
    for i, o in enumerate(outcomes):
        groups.setdefault(o.type, []).append(i)
    return groups


def _room_ids(outcomes: Sequence[Outcome]) -> torch.Tensor:
    names = {s: k for k, s in enumerate(sorted({o.scene for o in outcomes}))}
    return torch.tensor([names[o.scene] for o in outcomes], dtype=torch.int64)


def figure_intervals(outcomes: Sequence[Outcome], level: float = INTERVAL_LEVEL) -> dict[str, tuple[float, float]]:
    """Per question type and over all questions (:data:`ALL`): the interval of the exact match rate
    when the rooms are resampled (:func:`lerf3d.stats.room_bootstrap`)."""
    if not outcomes:
        raise ValueError("no answered questions to put intervals on")
    hits = torch.tensor([o.right for o in outcomes])
    rooms = _room_ids(outcomes)
    return {t: room_bootstrap(hits[i], rooms[i], level) for t, i in _groups(outcomes).items()}


def compare_outcomes(before: Sequence[Outcome], after: Sequence[Outcome],
                     level: float = INTERVAL_LEVEL) -> dict[str, tuple[float, float, float]]:
    """Per question type and over all: (after's rate - before's, and its paired interval). Both must
    hold the same questions in the same order (two evaluations of one dataset split)."""
    if [(o.scene, o.question) for o in before] != [(o.scene, o.question) for o in after]:
        raise ValueError(f"the two evaluations hold different questions ({len(before)} and {len(after)}): "
                         "compare runs evaluated on the same dataset split with the same --limit")
    a = torch.tensor([o.right for o in before])
    b = torch.tensor([o.right for o in after])
    rooms = _room_ids(before)
    return {t: paired_room_bootstrap(a[i], b[i], rooms[i], level) for t, i in _groups(before).items()}


def load_outcomes(report: str | Path) -> list[Outcome]:
    """The per-question outcomes a ``lerf3d llm-eval`` report recorded; a clear error for a file
    that is not such a report or was written before reports kept them."""
    path = Path(report)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such evaluation report") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a JSON evaluation report ({error})") from None
    rows = data.get("outcomes") if isinstance(data, dict) else None
    if not rows:
        raise ValueError(f"{path}: the report keeps no per-question outcomes (written before they were "
                         "recorded, or by another tool): evaluate that run again with lerf3d llm-eval")
    try:
        return [Outcome(str(r["scene"]), str(r["type"]), str(r["question"]), bool(r["held_out"]), bool(r["right"]),
                        str(r.get("answer", "")), str(r.get("prediction", "")))
                for r in rows]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{path}: malformed outcome row ({error!r})") from None


def method_intervals(outcomes: Sequence[Outcome], method: str = "scene-llm",
                     level: float = INTERVAL_LEVEL) -> dict[str, dict[str, tuple[float, float]]]:
    """:func:`figure_intervals` of ``method`` on every question, and, when both occur, apart on the
    trained wordings and on the held-out wording family (named as ``lerf3d llm-eval`` names those rows)."""
    out = {method: figure_intervals(outcomes, level)}
    if len({o.held_out for o in outcomes}) == 2:
        for name, held in WORDING_ROWS:
            out[f"{method}, {name}"] = figure_intervals([o for o in outcomes if o.held_out == held], level)
    return out


def interval_line(method: str, intervals: dict[str, tuple[float, float]], rooms: int,
                  level: float = INTERVAL_LEVEL) -> str:
    """One line: each figure's interval over the rooms, types in order then all."""
    parts = [f"{t} {lo:.2f}-{hi:.2f}" for t, (lo, hi) in sorted(intervals.items()) if t != ALL]
    lo, hi = intervals[ALL]
    return f"{method}, {level:.0%} over the {rooms} rooms: " + ", ".join(parts) + f"; {ALL} {lo:.2f}-{hi:.2f}"


def comparison_table(differences: dict[str, tuple[float, float, float]], against: str,
                     level: float = INTERVAL_LEVEL) -> str:
    """A markdown table of :func:`compare_outcomes`: this run minus ``against``, per type."""
    rows = [f"| {t} | {d:+.2f} | {lo:+.2f} to {hi:+.2f} | {'yes' if lo > 0 or hi < 0 else 'no'} |"
            for t, (d, lo, hi) in sorted(differences.items(), key=lambda kv: (kv[0] == ALL, kv[0]))]
    return "\n".join([f"this run minus {against} (same questions, rooms resampled together):",
                      f"| type | difference | {level:.0%} interval | outside the rooms' draw |",
                      "|---|---|---|---|", *rows])
