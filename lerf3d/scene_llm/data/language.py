"""English for generated questions and answers: plurals, articles, lists, and answer matching.

Kept tiny and rule-based: the labels are the furniture catalogue's lower-case names ("bedside
table", "chair with cushion", "shelves"), not arbitrary text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
"""Counts spelled out in captions ("two chairs"); larger counts are written as digits."""

_QUALIFIER = re.compile(r"^(?P<head>.+?)(?P<tail> (?:with|of) .+)$")
"""Labels like "chair with cushion": the plural goes on the head noun ("chairs with cushion")."""


def is_plural_only(label: str) -> bool:
    """Labels already plural ("shelves", "slippers", "headphones"): they take no "a" and no -s."""
    word = label.split()[-1]
    return word.endswith("s") and not word.endswith(("ss", "us"))


def plural(label: str) -> str:
    """English plural of a catalogue label (regular rules; labels already plural are unchanged)."""
    match = _QUALIFIER.match(label)
    if match:
        return plural(match["head"]) + match["tail"]
    if is_plural_only(label):
        return label
    if label.endswith(("s", "x", "ch", "sh", "z")):
        return label + "es"
    if label.endswith("y") and len(label) > 1 and label[-2] not in "aeiou":
        return label[:-1] + "ies"
    return label + "s"


def with_article(label: str) -> str:
    """"a chair", "an oven", "some slippers"."""
    if is_plural_only(label):
        return f"some {label}"
    return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


def there_is(label: str) -> str:
    """"Is there a chair", "Are there any slippers"."""
    return f"Are there any {label}" if is_plural_only(label) else f"Is there {with_article(label)}"


def is_the(label: str) -> str:
    """"Is the chair", "Are the slippers"."""
    return f"{'Are' if is_plural_only(label) else 'Is'} the {label}"


def counted(label: str, count: int) -> str:
    """"a chair" for one, "two chairs" for more."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if count == 1:
        return with_article(label)
    number = NUMBER_WORDS[count] if count < len(NUMBER_WORDS) else str(count)
    return f"{number} {plural(label)}"


def join_list(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    if not items:
        raise ValueError("join_list needs at least one item")
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


_PUNCTUATION = re.compile(r"[^\w\s-]")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+")


def normalise_answer(text: str) -> str:
    """Canonical form for exact-match scoring: lower case, no punctuation, no leading article,
    single spaces, and number words as digits ("The Chair." == "chair", "Two" == "2")."""
    text = _PUNCTUATION.sub(" ", text.lower())
    text = " ".join(text.split())
    text = _LEADING_ARTICLE.sub("", text)
    if text in NUMBER_WORDS:
        return str(NUMBER_WORDS.index(text))
    return text
