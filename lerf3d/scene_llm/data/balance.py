"""How answers are spread per question type: the prior a blind model could exploit.

A type whose most common answer covers most of its questions can be "answered" without the scene;
the majority share is the exact match of always giving that answer (the majority baseline).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol


class _Answered(Protocol):
    type: str
    answer: str


@dataclass(frozen=True)
class AnswerStats:
    """The answers of one question type."""

    total: int
    """Questions of the type."""
    counts: dict[str, int]
    """Answer -> questions with it, most common first (ties alphabetical)."""

    @property
    def majority(self) -> str:
        """The most common answer."""
        return next(iter(self.counts))

    @property
    def majority_share(self) -> float:
        """Share of the most common answer: the majority baseline's exact match."""
        return self.counts[self.majority] / self.total


def _stats(counts: Counter) -> AnswerStats:
    return AnswerStats(sum(counts.values()), dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))


def answer_distribution(records: Iterable[_Answered]) -> dict[str, AnswerStats]:
    """Record type -> its :class:`AnswerStats` (types in first-seen order; captions left out, their
    answers are sentences)."""
    by_type: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        if record.type != "caption":
            by_type[record.type][record.answer] += 1
    return {t: _stats(c) for t, c in by_type.items()}


def merge_distributions(parts: Iterable[Mapping[str, AnswerStats]]) -> dict[str, AnswerStats]:
    """The distribution of several record sets together (e.g. every split)."""
    total: dict[str, Counter] = defaultdict(Counter)
    for part in parts:
        for kind, stats in part.items():
            total[kind].update(stats.counts)
    return {t: _stats(c) for t, c in total.items()}


def format_distribution(stats: Mapping[str, AnswerStats], top: int = 6) -> list[str]:
    """One line per type: questions, majority answer and share, the ``top`` commonest answers."""
    lines = []
    for kind, s in stats.items():
        shown = ", ".join(f"{a} {n / s.total:.2f}" for a, n in list(s.counts.items())[:top])
        more = f", +{len(s.counts) - top} more" if len(s.counts) > top else ""
        lines.append(f"{kind:<13} {s.total:>5} questions, majority {s.majority!r} {s.majority_share:.2f} "
                     f"({shown}{more})")
    return lines
