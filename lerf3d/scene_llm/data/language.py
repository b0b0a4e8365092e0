"""English for generated questions and answers: plurals, articles, verbs, lists, and the answer normaliser.

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


def be(label: str) -> str:
    """"is" for one thing, "are" for a plural-only label ("the slippers are")."""
    return "are" if is_plural_only(label) else "is"


def does(label: str) -> str:
    """"does" for one thing, "do" for a plural-only label ("do the slippers rest on ...")."""
    return "do" if is_plural_only(label) else "does"


def any_of(label: str) -> str:
    """"a chair", "an oven", "any slippers": the object of a yes/no question about presence."""
    return f"any {label}" if is_plural_only(label) else with_article(label)


def there_clause(label: str) -> str:
    """"there is a chair", "there are any slippers" (inside a longer sentence)."""
    return f"there {be(label)} {any_of(label)}"


NUMBER_WORDS_TO_20 = NUMBER_WORDS + ("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                                     "seventeen", "eighteen", "nineteen", "twenty")
"""Number words the normaliser reads as digits (a model may spell a count out)."""

_PUNCTUATION = re.compile(r"[^\w\s-]")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an|some|any)\s+")
_YES_NO = re.compile(r"^\s*(yes|no)\b\s*(?:[,.!;:]|$|(?=(?:there|it|they|i)\b))", re.IGNORECASE)
"""A reply that opens with yes or no and then only qualifies it ("Yes, there is.", "no.", "No it isn't");
"no chairs" is not a "no" (it may answer a count)."""
_SIDE = re.compile(r"^(?:(?:to|on) (?:the|its) )?(left|right)(?: side| hand side)?(?: of it)?$")
"""Phrases of a side: "to the left", "on the right side", "left" -> the side."""
_COMPASS = re.compile(r"^(north|south)[\s-]?(east|west)$")
"""Quarters written with a space, a hyphen or nothing ("north east", "northeast")."""
_WALL = re.compile(r"^(north|south|east|west)(?: wall| side)$")
"""A wall named with the word "wall" ("the north wall" -> "north")."""


IDENTIFIER_FORMAT = "<obj{}>"
"""Text of object identifier K (Chat-Scene's object identifiers, written as plain text): the model
splices it before the K-th scene token, and a grounded answer names that object by writing it."""

NO_OBJECT = "none"
"""What a grounded answer names when it rests on no object (an absent label)."""

_GROUNDING = re.compile(
    r"^\s*(?:none|<obj\d+>(?:\s+\d\s+\d)?(?:\s*,?\s*(?:near\s+)?<obj\d+>(?:\s+\d\s+\d)?)*)\s*:\s*")
"""The objects a grounded answer names before its colon: "<obj1>, <obj4>: ", "<obj3> 8 1: ", "none: ",
and an object followed by its scene-graph link: "<obj1> 3 6 near <obj5> 2 7: "."""


_COUNT_FIRST = re.compile(r"^\s*(\d+)\s*:\s*(none|<obj\d+>(?:\s*,\s*<obj\d+>)*)\s*$")
"""A count written before the objects it counts (:func:`count_first_text`): "2: <obj2>, <obj7>",
"0: none"; nothing may follow the list."""


def grounded_text(objects: Sequence[str], answer: str) -> str:
    """A grounded answer: the objects it rests on (identifiers, each optionally followed by its
    position digits: "<obj3> 8 1"), a colon, the answer; "none: 0" when it rests on none."""
    return f"{', '.join(objects) or NO_OBJECT}: {answer}"


def count_first_text(objects: Sequence[str], count: str) -> str:
    """A grounded count with its number first: the count, a colon, the identifiers it counts
    ("2: <obj2>, <obj7>"; "0: none"), so the number is written before the list rather than read
    off it."""
    return f"{count}: {', '.join(objects) or NO_OBJECT}"


def split_grounding(text: str) -> tuple[str, str]:
    """(the objects a grounded answer names, its answer): "<obj1>, <obj4>: 2" -> ("<obj1>, <obj4>",
    "2"); "none: no" -> ("", "no"); a count written first, "2: <obj1>, <obj4>" -> ("<obj1>,
    <obj4>", "2"), "0: none" -> ("", "0"); other text -> ("", text)."""
    counted = _COUNT_FIRST.match(text)
    if counted is not None:
        named = counted[2].strip()
        return ("" if named == NO_OBJECT else named), counted[1]
    match = _GROUNDING.match(text)
    if match is None:
        return "", text
    named = text[: match.end()].strip().rstrip(":").strip()
    return ("" if named == NO_OBJECT else named), text[match.end():]


def strip_grounding(text: str) -> str:
    """The answer of a grounded answer ("<obj1>, <obj4>: 2" -> "2"); other text unchanged."""
    return split_grounding(text)[1]


def _plurals(vocabulary: tuple[str, ...]) -> dict[str, str]:
    """Plural -> label of a vocabulary, without the plurals that are themselves labels or are shared
    by two labels (those would be ambiguous)."""
    labels = set(vocabulary)
    seen: dict[str, list[str]] = {}
    for label in vocabulary:
        seen.setdefault(plural(label), []).append(label)
    return {form: found[0] for form, found in seen.items() if len(found) == 1 and form not in labels}


_PLURAL_CACHE: dict[tuple[str, ...], dict[str, str]] = {}


def normalise_answer(text: str, vocabulary: Sequence[str] = ()) -> str:
    """The one canonical form of an answer, for training targets and exact-match scoring alike.

    Lower case, punctuation dropped (hyphens kept: "north-east"), single spaces, no leading article;
    number words as digits ("Two" -> "2", "2." -> "2"); a reply opening with yes or no as that word
    ("Yes, there is." -> "yes"); sides ("to the left" -> "left"), quarters ("north east" ->
    "north-east") and walls ("the south wall" -> "south"). Given the ``vocabulary`` of object
    labels, a label's plural is read as the label ("chairs" -> "chair") where no other label claims
    that form ("shelves" stays a label of its own). A grounded answer's objects are dropped first
    (:func:`strip_grounding`: "<obj1>, <obj4>: two" -> "2")."""
    text = strip_grounding(text)
    yes_no = _YES_NO.match(text)
    if yes_no:
        return yes_no[1].lower()
    text = _PUNCTUATION.sub(" ", text.lower())
    text = " ".join(text.split())
    text = _LEADING_ARTICLE.sub("", text)
    if text in NUMBER_WORDS_TO_20:
        return str(NUMBER_WORDS_TO_20.index(text))
    if text.isdigit():
        return str(int(text))  # "02" -> "2"
    for pattern, form in ((_SIDE, "{0}"), (_COMPASS, "{0}-{1}"), (_WALL, "{0}")):
        match = pattern.match(text)
        if match:
            return form.format(*match.groups())
    if vocabulary:
        key = tuple(sorted(set(vocabulary)))
        if key not in _PLURAL_CACHE:
            _PLURAL_CACHE.clear()  # one vocabulary at a time in practice: keep the cache small
            _PLURAL_CACHE[key] = _plurals(key)
        text = _PLURAL_CACHE[key].get(text, text)
    return text


def answers_match(prediction: str, answer: str, vocabulary: Sequence[str] = ()) -> bool:
    """Exact match as every evaluation scores it: the two answers' :func:`normalise_answer` forms are equal."""
    return normalise_answer(prediction, vocabulary) == normalise_answer(answer, vocabulary)
