"""Answer questions about a scene with a trained Scene-LLM run (what ``lerf3d ask`` calls).

    lerf3d ask SCENE "how many chairs are there?" [--run RUN]     # one or more questions
    lerf3d ask SCENE                                              # interactive prompt
    lerf3d ask SCENE --questions FILE                             # .txt (one a line) or .jsonl

SCENE is a capture folder (fused, featurised and back-projected on the spot, a few seconds to
minutes) or a ``features/<scene>.pt`` file of a prepared dataset (instant). The encoder and scale
must be the ones the run was trained with; a mismatch of feature width is reported as an error.
:class:`AskSession` loads the run and the scene once and answers any number of questions (the
interactive prompt and the viewer's chat panel use it).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from lerf3d.scene_llm.data.dataset import QuestionFileError, json_line, numbered_lines
from lerf3d.scene_llm.data.language import split_grounding
from lerf3d.scene_llm.tokens.crops import CropSource
from lerf3d.scene_llm.tokens.prepare import PrepareConfig, build_extractor, capture_scene_features
from lerf3d.scene_llm.tokens.record import check_feature_source, run_feature_record
from lerf3d.scene_llm.tokens.scenes import (
    SceneFeatures,
    TokenConfig,
    TokenStore,
    ViewTokens,
    load_scene_features,
)
from lerf3d.scene_llm.train.run_files import VOCABULARY_NAME, load_run_vocabulary
from lerf3d.scene_llm.use.explain import UsedObject, used_objects
from lerf3d.scene_llm.use.load import load_scene_llm, object_labels
from lerf3d.scene_llm.use.readout import label_texts, nearest_labels

if TYPE_CHECKING:
    from lerf3d.query.camera import QueryCamera
    from lerf3d.scene_llm.tokens.frames import SceneTokens


@dataclass(frozen=True)
class AskConfig:
    """Settings of :func:`ask`."""

    run_dir: Path
    """Scene-LLM run folder (``lerf3d llm-train``)."""
    features: PrepareConfig = field(default_factory=PrepareConfig)
    """How a capture folder becomes features (must match the run's training data)."""
    stage: int | None = None
    """Stage whose weights answer (None: the latest trained)."""
    max_new_tokens: int | None = None
    """Answer length cap, tokens (None: the run's ``max_new_tokens``, long enough for its answers)."""
    device: str = "cpu"
    """Where the LLM runs."""
    view: str | None = None
    """Ask from this frame of the capture: egocentric tokens of what it sees, in its camera frame
    ("seen from this view, is the lamp left of the bed?"); None: the whole scene's tokens."""

    def __post_init__(self) -> None:
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


def check_scene_path(scene: str | Path) -> Path:
    """``scene`` when it is a capture folder or a prepared ``.pt`` file, else FileNotFoundError."""
    scene = Path(scene)
    if not (scene.is_dir() or (scene.is_file() and scene.suffix == ".pt")):
        raise FileNotFoundError(f"{scene}: neither a capture folder nor a scene features .pt file")
    return scene


def scene_features(scene: str | Path, cfg: PrepareConfig, device: str = "cpu",
                   extractor=None) -> SceneFeatures:
    """Features of a prepared ``.pt`` file, or computed from a capture folder (with ``extractor``, or
    one built from ``cfg``)."""
    scene = check_scene_path(scene)
    if scene.is_file():
        return load_scene_features(scene)
    return capture_scene_features(scene.name, scene, cfg, extractor or build_extractor(cfg, None, device), device)


def crop_source(scene: str | Path, name: str, tokens: TokenConfig, encoder, labels: Sequence[str] = (),
                template: str = CropSource.template) -> CropSource | None:
    """What tokens named from crops read (None when the run's tokens are not): the capture folder
    ``scene`` and the features' image-text ``encoder``, with what tokens named as objects are named
    by (``labels``, ``template``); a ValueError for a features file, which has no images."""
    if not tokens.crop_views:
        return None
    scene = Path(scene)
    if not scene.is_dir():
        raise ValueError(f"{scene}: this run names its tokens from crops of the capture's frames "
                         f"(crop_views={tokens.crop_views}); pass the capture folder, not a features file")
    return CropSource({name: scene}, encoder, tuple(labels), template)


class AskSession:
    """A loaded run and one scene's tokens: each :meth:`answer` is a forward pass, nothing more."""

    def __init__(self, scene: str | Path, cfg: AskConfig) -> None:
        self.config = cfg
        # a capture folder: one extractor computes its features and encodes its crops
        extractor = build_extractor(cfg.features, None, cfg.device) if Path(scene).is_dir() else None
        self.features = scene_features(scene, cfg.features, cfg.device, extractor)
        check_feature_source(cfg.run_dir, self.features.points.source)
        self.run = load_scene_llm(cfg.run_dir, cfg.stage, cfg.device)
        self.store = TokenStore({self.features.scene: self.features}, self.run.config.tokens,
                                crop_source(scene, self.features.scene, self.run.config.tokens,
                                            extractor.image_text_encoder if extractor else None,
                                            object_labels(cfg.run_dir, self.run.config),
                                            self.run.config.bridge.template))
        if cfg.view is not None and cfg.view not in self.features.frame_points:
            frames = sorted(self.features.frame_points)
            raise ValueError(f"--view {cfg.view!r}: no such frame in {scene} (frames: {', '.join(frames[:5])}"
                             f"{' ...' if len(frames) > 5 else ''})")
        self.tokens = self.store.tokens_for(self.features.scene, cfg.view)
        """The tokens questions are asked about by default: the whole scene, or the ``view`` frame's."""
        self._vocabulary: list[str] = []
        self._label_texts: torch.Tensor | None = None
        self._token_labels: list[str] | None = None

    def view(self, camera: QueryCamera) -> ViewTokens:
        """Egocentric tokens of what ``camera`` (any pose, e.g. the viewer's) sees of the scene, and the
        same tokens in world coordinates; a ValueError when it sees no object."""
        seen = self.store.view(self.features.scene, camera.camera_to_world, camera.intrinsics)
        if seen.ego.num_tokens == 0:
            raise ValueError(f"camera {camera.name!r} sees no object of the scene: turn it towards the room "
                             "or ask about the whole scene")
        return seen

    def labels_of(self, tokens: SceneTokens) -> list[str]:
        """Each token's nearest object name among the run's (``vocabulary.json``), read through the
        features' text tower with the run's bridge template (the names' embeddings computed once)."""
        if self._label_texts is None:
            vocabulary = load_run_vocabulary(self.config.run_dir)
            if vocabulary is None:
                raise FileNotFoundError(f"{self.config.run_dir / VOCABULARY_NAME}: the run records no object "
                                        "names, which --explain needs to name the scene's objects")
            self._vocabulary = vocabulary
            self._label_texts = label_texts(self.config.features.encoder, vocabulary,
                                            self.run.config.bridge.template, self.config.device)
        return nearest_labels(tokens.features, self._label_texts, self._vocabulary)

    def token_labels(self) -> list[str]:
        """:meth:`labels_of` the default tokens, computed on first use."""
        if self._token_labels is None:
            self._token_labels = self.labels_of(self.tokens)
        return self._token_labels

    def explain(self, question: str, answer: str, tokens: SceneTokens | None = None,
                shown: SceneTokens | None = None) -> list[UsedObject]:
        """The objects ``answer`` to ``question`` (asked about ``tokens``, default :attr:`tokens`)
        rests on (see :mod:`lerf3d.scene_llm.use.explain`), placed as in ``shown`` (the same tokens in
        another frame, e.g. a view's in world coordinates; default ``tokens``)."""
        if tokens is None:
            labels, tokens = self.token_labels(), self.tokens
        else:
            labels = self.labels_of(tokens)
        return used_objects(tokens if shown is None else shown, labels, question, answer)

    def hint(self, question: str, tokens: SceneTokens | None = None) -> str | None:
        """The hint line the model reads after ``question`` about ``tokens`` (default :attr:`tokens`);
        None for a run trained without ``question_hints``."""
        model = self.run.model
        if not model.question_hints:  # no projector inputs to compute for a run without hints
            return None
        return model.hint_lines([question.strip()], [model.scene_inputs(self.tokens if tokens is None else tokens)])[0]

    def answer(self, questions: str | list[str], tokens: SceneTokens | None = None) -> list[str]:
        """Greedy answers to one question or several, about ``tokens`` (default :attr:`tokens`)."""
        if isinstance(questions, str):
            questions = [questions]
        questions = [q.strip() for q in questions]
        if not questions or not all(questions):
            raise ValueError("ask needs at least one non-empty question")
        tokens = self.tokens if tokens is None else tokens
        with torch.no_grad():
            cap = self.config.max_new_tokens or self.run.config.max_new_tokens
            return self.run.model.answer([tokens] * len(questions), questions, cap)


def ask(scene: str | Path, questions: str | list[str], cfg: AskConfig) -> list[str]:
    """Greedy answers to ``questions`` (one string or several) about ``scene``."""
    if isinstance(questions, str):
        questions = [questions]
    if not questions:
        raise ValueError("ask needs at least one question")
    return AskSession(scene, cfg).answer(list(questions))


def read_questions(path: str | Path) -> list[str]:
    """Questions of a file: ``.jsonl`` lines are objects with a non-empty string ``question`` (dataset
    records qualify; other fields are ignored), any other file has one question per line (``#``
    starts a comment line). Blank lines are skipped; a bad line is a QuestionFileError
    ``"<path>:<line>: ..."``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no question file at {path}")
    questions = []
    for number, text in numbered_lines(path):
        if path.suffix != ".jsonl":
            if not text.startswith("#"):
                questions.append(text)
            continue
        data = json_line(path, number, text)
        question = data.get("question") if isinstance(data, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise QuestionFileError(f"{path}:{number}: expected an object with a non-empty string "
                                    f"'question', got {text[:60]!r}")
        questions.append(question.strip())
    if not questions:
        raise QuestionFileError(f"{path}: no questions")
    return questions


INTERACTIVE_PROMPT = "question> "


def feature_settings(run_dir: Path, encoder: str | None, scale: float | None) -> PrepareConfig:
    """How to compute a capture's features for ``run_dir``: its record (``features.json``, written at
    training), else the defaults; ``encoder`` / ``scale`` override."""
    record = run_feature_record(run_dir)
    cfg = record.settings if record is not None else PrepareConfig()
    if encoder is not None:
        cfg = dataclasses.replace(cfg, encoder=encoder)
    if scale is not None:
        cfg = dataclasses.replace(cfg, world_scale=scale)
    return cfg


def _interactive(session: AskSession, stream, explain: bool = False) -> None:
    print(f"scene {session.features.scene}: {session.tokens.num_tokens} tokens; ask away "
          "(an empty line or Ctrl-D ends)", file=sys.stderr)
    while True:
        print(INTERACTIVE_PROMPT, end="", file=sys.stderr, flush=True)
        line = stream.readline()
        if not line.strip():
            break
        answer = session.answer(line.strip())[0]
        print(answer_line(answer), flush=True)
        if explain:
            print(explanation(session, line.strip(), answer), flush=True)


def run(args: argparse.Namespace) -> int:
    """``lerf3d ask``: answers printed as ``Q: ...`` / ``A: ...`` pairs, or the interactive prompt."""
    questions = [q.strip() for q in args.questions]
    empty = [i for i, q in enumerate(questions, start=1) if not q]
    if empty:  # checked before the scene and the LLM load (a minute or more)
        raise ValueError(f"question {empty[0]} is empty: type a question, e.g. 'how many chairs are there?'")
    if args.question_file is not None:
        questions += read_questions(args.question_file)
    check_scene_path(args.scene)
    if not args.run.is_dir():
        raise FileNotFoundError(f"{args.run}: no Scene-LLM run folder (train one with lerf3d llm-train; "
                                "the packaged demo weights are built by python -m data_tools.scene_llm_demo)")
    features = feature_settings(args.run, args.encoder, args.scale)
    cfg = AskConfig(args.run, features, args.stage, args.max_new_tokens, args.device, args.view)
    session = AskSession(args.scene, cfg)
    if not questions:
        _interactive(session, sys.stdin, args.explain)
        return 0
    for question, answer in zip(questions, session.answer(questions)):
        print(f"Q: {question}\n{answer_line(answer)}")
        if args.explain:
            print(explanation(session, question, answer))
    return 0


def answer_line(answer: str) -> str:
    """``A: ...``: the answer, then the objects a grounded answer named ("A: 2   [<obj1>, <obj4>]")."""
    named, said = split_grounding(answer)
    return f"A: {said}" + (f"   [{named}]" if named else "")


def explanation(session: AskSession, question: str, answer: str) -> str:
    """The ``--explain`` lines under an answer: the objects it rests on, and the hint the model read
    after the question when its run has question hints."""
    used = session.explain(question, answer)
    view = session.config.view
    frame = f"camera frame of {view}" if view else "world frame"
    line = f"   rests on ({frame}): " + ("; ".join(u.describe() for u in used) if used
                                         else "no object the question or answer names")
    hint = session.hint(question)
    return line if hint is None else f"{line}\n   read after the question: {hint}"
