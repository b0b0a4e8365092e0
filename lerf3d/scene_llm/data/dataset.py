"""Scene-LLM datasets on disk: question records, JSONL files, scene splits, and their generation.

A dataset folder holds::

    scenes.json            scene name -> capture folder (relative to this file) and split
    stage1_<split>.jsonl   frame captions: {"scene", "type": "caption", "question", "answer", "frame",
                           "family": 0}
    stage2_<split>.jsonl   scene instructions: {"scene", "type", "question", "answer", "frame", "family",
                           "boxes"} ("frame" is the view of an "ego_relation" question, null
                           otherwise; "boxes" the objects the answer rests on, :mod:`.grounding`)

Splits are by scene: a scene's captions and questions all sit in one split, so validation and test
rooms are never seen in training. The held-out wording family (:mod:`.wording`) is never written
into the training split; validation and test questions are spread over the evaluated families
(``EVAL_FAMILIES``), the held-out one included. Everything is deterministic from the seed; files
are written atomically.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lerf3d.atomic import atomic_path, write_json_atomic
from lerf3d.ground_truth import GroundTruth, load_ground_truth
from lerf3d.scene_llm.data.balance import AnswerStats, answer_distribution
from lerf3d.scene_llm.data.egocentric import View, capture_views, ego_relation_questions
from lerf3d.scene_llm.data.grounding import Box, answer_boxes
from lerf3d.scene_llm.data.questions import (
    CAPTION_PROMPT,
    TYPES,
    QuestionConfig,
    frame_caption,
    scene_questions,
)
from lerf3d.scene_llm.data.wording import (
    EVAL_FAMILIES,
    NUM_FAMILIES,
    TRAIN_FAMILIES,
    TRAIN_ONLY_FAMILIES,
    is_held_out_wording,
    with_families,
)

FRAME_TYPES = ("caption", "ego_relation")
"""Record types asked from a frame (they carry its name); every other type takes none."""

SPLITS = ("train", "val", "test")
"""Dataset splits, in this order everywhere."""

MANIFEST_NAME = "scenes.json"
"""Scene list of a dataset folder."""


@dataclass(frozen=True)
class QARecord:
    """One line of a dataset file."""

    scene: str
    """Scene name (``ground_truth.json``'s ``scene``)."""
    type: str
    """One of :data:`lerf3d.scene_llm.data.questions.TYPES`."""
    question: str
    """Question text (the stage-1 prompt for captions)."""
    answer: str
    """Target answer."""
    frame: str | None = None
    """Frame name for captions and egocentric questions (trained with that frame's egocentric
    tokens); None for scene questions."""
    family: int = 0
    """Wording family of the question (:mod:`lerf3d.scene_llm.data.wording`); 0 for captions and
    for files written before families (a line without the key)."""
    boxes: tuple[Box, ...] = ()
    """World boxes (x, y, z minimum then maximum, metres) of the objects the answer rests on, in the
    order a grounded answer names them (:mod:`.grounding`); empty when it rests on none (an absent
    label), for kinds not grounded, and for files written without them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", _boxes(self.boxes))
        for name in ("scene", "type", "question", "answer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if self.type not in TYPES:
            raise ValueError(f"type must be one of {TYPES}, got {self.type!r}")
        needs_frame = self.type in FRAME_TYPES
        if needs_frame != (self.frame is not None):
            raise ValueError(f"a {self.type!r} record {'needs' if needs_frame else 'takes no'} "
                             f"frame (got {self.frame!r})")
        if self.frame is not None and not isinstance(self.frame, str):
            raise ValueError(f"frame must be a string or null, got {self.frame!r}")
        families = 1 if self.type == "caption" else NUM_FAMILIES
        if type(self.family) is not int or not 0 <= self.family < families:
            raise ValueError(f"family of a {self.type!r} record must be an integer in [0, {families}), "
                             f"got {self.family!r}")

    @property
    def stage(self) -> int:
        """1 for captions (frame alignment), 2 for scene instructions."""
        return 1 if self.type == "caption" else 2


def _boxes(value: Any) -> tuple[Box, ...]:
    """A record's ``boxes`` as tuples of six finite floats, minimum <= maximum (JSON gives lists)."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"boxes must be a list of [xmin, ymin, zmin, xmax, ymax, zmax], got {value!r:.80}")
    out = []
    for box in value:
        if (not isinstance(box, (list, tuple)) or len(box) != 6
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
            raise ValueError(f"a box must be 6 numbers [xmin, ymin, zmin, xmax, ymax, zmax], got {box!r:.80}")
        box = tuple(float(v) for v in box)
        if not np.all(np.isfinite(box)) or any(box[i] > box[i + 3] for i in range(3)):
            raise ValueError(f"a box must be finite with minimum <= maximum, got {box}")
        out.append(box)
    return tuple(out)


def write_jsonl(path: str | Path, records: Iterable[QARecord]) -> Path:
    """One JSON object per line, written atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
    return path


MAX_PROBLEM_CHARS = 200
"""A bad line's problem is cut to this length in its error (a record may hold pages of text)."""


class QuestionFileError(ValueError):
    """A question or dataset file that cannot be read: the message names the file, the line and the
    problem (what ``lerf3d ask --questions``, ``llm-train`` and ``llm-eval`` report)."""


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of each non-blank line of a UTF-8 text file; QuestionFileError
    naming the line that is not UTF-8 (decoded line by line, so the number is exact)."""
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as err:
                raise QuestionFileError(f"{path}:{number}: not UTF-8 text (byte {err.start})") from None
            if text:
                yield number, text


def json_line(path: Path, number: int, text: str) -> Any:
    """One JSON value of a JSONL line; QuestionFileError naming the line when it is not JSON (or is
    nested deeper than the parser's recursion allows)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise QuestionFileError(f"{path}:{number}: not JSON ({err.msg})") from None
    except (RecursionError, ValueError) as err:  # 100,000 nested brackets; 5,000-digit numbers
        raise QuestionFileError(f"{path}:{number}: not usable JSON ({type(err).__name__})") from None


def read_jsonl(path: str | Path) -> list[QARecord]:
    """Records of a JSONL file; QuestionFileError ``"<path>:<line>: <problem>"`` on the first bad line.
    Blank lines are allowed (a trailing newline is)."""
    path = Path(path)
    keys = {f.name for f in fields(QARecord)}
    records = []
    for number, line in numbered_lines(path):
        data = json_line(path, number, line)
        try:
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            unknown = set(data) - keys
            if unknown:
                raise ValueError(f"unknown field(s) {sorted(unknown)[:5]}")
            records.append(QARecord(**data))
        except (TypeError, ValueError, RecursionError) as err:  # RecursionError: repr of nested values
            raise QuestionFileError(f"{path}:{number}: {str(err)[:MAX_PROBLEM_CHARS]}") from None
    return records


def split_scenes(
    scenes: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """Scene -> split. Shuffled by ``seed`` (from the sorted names, so input order does not matter);
    val and test get at least one scene each once there are three or more (when their fraction > 0)."""
    if len(set(scenes)) != len(scenes):
        duplicates = sorted(s for s, n in Counter(scenes).items() if n > 1)
        raise ValueError(f"scene names must be unique, repeated: {duplicates}")
    names = sorted(scenes)
    order = np.random.default_rng(seed).permutation(len(names))
    total = len(names)

    def size(fraction: float) -> int:
        if fraction <= 0 or total < 3:
            return 0
        return max(1, int(round(fraction * total)))

    num_val, num_test = size(val_fraction), size(test_fraction)
    if num_val + num_test >= total:
        raise ValueError(f"{total} scenes leave none for training with val/test fractions "
                         f"{val_fraction}/{test_fraction}")
    split = ["test"] * num_test + ["val"] * num_val + ["train"] * (total - num_val - num_test)
    return {names[i]: split[rank] for rank, i in enumerate(order)}


@dataclass(frozen=True)
class DatasetConfig:
    """Settings of :func:`generate_dataset`."""

    seed: int = 0
    """Seed of every random choice (split, sampled questions)."""
    val_fraction: float = 0.2
    """Share of scenes in the validation split."""
    test_fraction: float = 0.2
    """Share of scenes in the test split."""
    questions: QuestionConfig = field(default_factory=QuestionConfig)
    """Thresholds of question generation."""
    balance_labels: bool = True
    """Draw absent labels in proportion to how many rooms hold them (see :func:`generate_dataset`);
    False: uniformly from the vocabulary."""
    egocentric: bool = True
    """Ask left/right from views of each room (reads each capture's poses next to its
    ``ground_truth.json``); False: scene-frame questions only."""
    only_split: str | None = None
    """Put every scene in this split (e.g. "test": an evaluation-only set of rooms from another
    layout); None: split by the fractions above."""
    train_only_wordings: bool = False
    """Spread training questions over the training-only wording families too
    (:data:`~lerf3d.scene_llm.data.wording.TRAIN_ONLY_FAMILIES`: ten wordings per kind instead of
    four); validation and test questions are the same either way. Safe beside ``stage2.vary_wording``:
    no rewrite of a training-only sentence writes a word pair of the held-out family (a test checks)."""

    def __post_init__(self) -> None:
        if self.only_split is not None and self.only_split not in SPLITS:
            raise ValueError(f"only_split must be one of {SPLITS} or None, got {self.only_split!r}")
        for name in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must leave room for training")

    @property
    def training_families(self) -> tuple[int, ...]:
        """The wording families the training split's questions are spread over."""
        return TRAIN_FAMILIES + TRAIN_ONLY_FAMILIES if self.train_only_wordings else TRAIN_FAMILIES


@dataclass(frozen=True)
class SceneEntry:
    """One scene of a dataset's manifest."""

    name: str
    """Scene name."""
    capture: Path
    """Capture folder (with ``ground_truth.json``)."""
    split: str
    """train, val or test."""


@dataclass(frozen=True)
class DatasetSummary:
    """What :func:`generate_dataset` wrote."""

    out_dir: Path
    """The dataset folder."""
    scenes: dict[str, SceneEntry]
    """Scene name -> entry."""
    counts: dict[str, dict[str, int]]
    """Split -> record type -> number of records."""
    answers: dict[str, dict[str, AnswerStats]]
    """Split -> stage-2 record type -> its answer distribution (:func:`answer_distribution`)."""


def scene_rng(seed: int, scene: str) -> np.random.Generator:
    """A generator per scene, so adding a room leaves the other rooms' questions unchanged."""
    return np.random.default_rng([seed, zlib.crc32(scene.encode())])


def scene_records(truth: GroundTruth, vocabulary: Sequence[str], config: DatasetConfig,
                  weights: Mapping[str, float] | None = None, families: Sequence[int] = EVAL_FAMILIES,
                  views: Sequence[View] = ()) -> list[QARecord]:
    """Captions of every masked frame, then the scene's instructions (``weights``: see
    :func:`lerf3d.scene_llm.data.questions.draw_absent`), then left/right questions from ``views``
    (:func:`lerf3d.scene_llm.data.egocentric.ego_relation_questions`); questions are spread over the
    wording ``families``."""
    rng = scene_rng(config.seed, truth.scene)
    records = [QARecord(truth.scene, "caption", CAPTION_PROMPT,
                        frame_caption(truth, name, config.questions.min_pixels), frame=name)
               for name in truth.mask_paths]
    qas = scene_questions(truth, vocabulary, config.questions, rng, weights, families)
    if views:
        ego = ego_relation_questions(truth.furniture, views, truth.load_mask, config.questions, rng)
        qas += with_families(ego, families, rng)
    records += [QARecord(truth.scene, qa.type, qa.question, qa.answer, qa.frame, qa.family,
                         answer_boxes(qa, truth.furniture)) for qa in qas]
    return records


def generate_dataset(
    rooms: Sequence[str | Path], out_dir: str | Path, config: DatasetConfig, vocabulary: Sequence[str] = ()
) -> DatasetSummary:
    """Questions for every capture folder in ``rooms`` (each with ``ground_truth.json``), split by
    scene. Absent labels of counting and existence questions are drawn from ``vocabulary`` plus every
    label of these rooms; with ``config.balance_labels`` in proportion to the number of rooms holding
    each label, so that a label is about as often absent as present when asked about and a blind
    guess from the question text is near chance."""
    out_dir = Path(out_dir)
    truths = [load_ground_truth(room) for room in rooms]
    if config.only_split is not None:
        splits = {t.scene: config.only_split for t in truths}
    else:
        splits = split_scenes([t.scene for t in truths], config.val_fraction, config.test_fraction, config.seed)
    labels = sorted(set(vocabulary) | {o.label for t in truths for o in t.furniture})
    rooms_with = Counter(label for t in truths for label in {o.label for o in t.furniture})
    weights = dict(rooms_with) if config.balance_labels else None
    per_file: dict[tuple[int, str], list[QARecord]] = {(s, p): [] for s in (1, 2) for p in SPLITS}
    counts: dict[str, Counter] = {p: Counter() for p in SPLITS}
    for truth in tqdm(truths, desc="questions", unit="room", disable=len(truths) < 2):
        split = splits[truth.scene]
        families = config.training_families if split == "train" else EVAL_FAMILIES
        views = capture_views(truth) if config.egocentric else ()
        for record in scene_records(truth, labels, config, weights, families, views):
            per_file[(record.stage, split)].append(record)
            counts[split][record.type] += 1
    leaked = [r for r in per_file[(2, "train")] if is_held_out_wording(r)]
    if leaked:  # the held-out wording must stay unseen, or its score means nothing
        raise RuntimeError(f"held-out wording in the training split: {leaked[0]}")
    for (stage, split), records in per_file.items():
        write_jsonl(out_dir / f"stage{stage}_{split}.jsonl", records)
    scenes = {t.scene: SceneEntry(t.scene, t.path.parent, splits[t.scene]) for t in truths}
    write_manifest(out_dir, scenes, config.seed, labels)
    answers = {p: answer_distribution(per_file[(2, p)]) for p in SPLITS}
    return DatasetSummary(out_dir, scenes, {p: dict(counts[p]) for p in SPLITS}, answers)


def write_manifest(out_dir: Path, scenes: dict[str, SceneEntry], seed: int,
                   vocabulary: Sequence[str] = ()) -> Path:
    """``scenes.json`` with capture paths relative to ``out_dir`` (the folder can move with its rooms)
    and the object names the questions use (``vocabulary``)."""
    entries = {name: {"capture": os.path.relpath(e.capture.resolve(), out_dir.resolve()), "split": e.split}
               for name, e in sorted(scenes.items())}
    return write_json_atomic(out_dir / MANIFEST_NAME,
                             {"seed": seed, "scenes": entries, "vocabulary": sorted(set(vocabulary))})


def load_vocabulary(dataset_dir: str | Path) -> list[str]:
    """The object names of a dataset: its manifest's ``vocabulary``, or (manifests written before it
    was recorded) the labels of its training scenes' ground truth."""
    data, entries = _read_manifest(dataset_dir)
    vocabulary = data.get("vocabulary")
    if vocabulary:
        if not isinstance(vocabulary, list) or not all(isinstance(v, str) and v for v in vocabulary):
            raise ValueError(f"{Path(dataset_dir) / MANIFEST_NAME}: malformed manifest (vocabulary must be a "
                             f"list of object names, got {vocabulary!r:.60})")
        return vocabulary
    return sorted({o.label for e in entries.values() if e.split == "train"
                   for o in load_ground_truth(e.capture).furniture})


def load_manifest(dataset_dir: str | Path) -> dict[str, SceneEntry]:
    """Scene name -> :class:`SceneEntry` of a dataset folder; ValueError naming the file when malformed."""
    return _read_manifest(dataset_dir)[1]


def _read_manifest(dataset_dir: str | Path) -> tuple[dict, dict[str, SceneEntry]]:
    """A dataset manifest's JSON and its scenes, read once; errors name the file."""
    path = Path(dataset_dir) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
        return data, {name: SceneEntry(name, (path.parent / e["capture"]).resolve(), str(e["split"]))
                      for name, e in data["scenes"].items()}
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no dataset manifest (run python -m data_tools.qa_generate)") from None
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as err:
        raise ValueError(f"{path}: malformed manifest ({type(err).__name__}: {err})") from None


def load_split(dataset_dir: str | Path, stage: int, split: str) -> list[QARecord]:
    """Records of one stage and split of a dataset folder."""
    if stage not in (1, 2) or split not in SPLITS:
        raise ValueError(f"stage must be 1 or 2 and split one of {SPLITS}, got {stage}, {split!r}")
    return read_jsonl(Path(dataset_dir) / f"stage{stage}_{split}.jsonl")
