"""Exact-match evaluation of a Scene-LLM run per question type, against blind baselines.

    lerf3d llm-eval RUN DATASET [--split test] [--limit N]

Methods compared on the same questions (all scored by ``normalise_answer`` equality):

- ``scene-llm``: the trained run, with the scene's tokens;
- ``text-only``: the run's base LLM without scene tokens or adapters (zero-shot, same prompt format);
- ``majority-type``: the most common training answer of the question's type;
- ``majority-question``: the most common training answer of the exact question text (falls back to
  the type's) — the strongest blind baseline: it knows e.g. that "is there a piano?" is usually "no";
- ``scene-llm, trained wordings`` / ``scene-llm, held-out wording``: the model on the questions
  phrased as in training and on the wording family no training question used
  (:mod:`lerf3d.scene_llm.data.wording`);
- ``object-readout``: no LLM: count, existence and nearest answered straight from the object tokens
  (:mod:`lerf3d.scene_llm.use.readout`), so the table shows what the LLM adds to the object layer.

Existence is also scored apart on present objects (the yes-rate) and absent ones (the no-rate): a
model that says "no" to everything scores 0.50 on balanced questions and 0 on the first. The
``relation`` type holds two kinds of question, scored apart too: left or right seen from the south
wall, and whether one object is on top of another. A run
trained on grounded answers is also scored on the objects its answers name: the share naming
exactly the right tokens per type, and for counting and existence whether a wrong list left objects
out, added others, or both (:func:`listing_outcomes`).

The scene model's figures also get 95 % intervals over the evaluated rooms, and ``--against
REPORT`` compares the run question by question with another evaluation of the same questions
(:mod:`lerf3d.scene_llm.use.intervals`).

A scene model earns its keep only where it beats the majority baselines.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from lerf3d.atomic import write_json_atomic
from lerf3d.preflight import check_output_path
from lerf3d.scene_llm.data.dataset import QARecord, load_manifest, load_split
from lerf3d.scene_llm.data.language import answers_match, normalise_answer, split_grounding
from lerf3d.scene_llm.data.wording import is_held_out_wording
from lerf3d.scene_llm.tokens.prepare import dataset_tokens
from lerf3d.scene_llm.tokens.scenes import TokenStore
from lerf3d.scene_llm.train.grounding import LISTED_TYPES, grounded_answer
from lerf3d.scene_llm.use.explain import IDENTIFIER_PATTERN
from lerf3d.scene_llm.use.intervals import (
    WORDING_ROWS,
    Outcome,
    answer_outcomes,
    compare_outcomes,
    comparison_table,
    interval_line,
    load_outcomes,
    method_intervals,
)
from lerf3d.scene_llm.use.load import LoadedRun, load_scene_llm, object_labels
from lerf3d.scene_llm.use.readout import label_texts, nearest_labels, readout_answer

EVAL_BATCH = 8
"""Questions decoded together (left-padded); bounded so a long split does not hold all KV caches."""
SIDE_ANSWERS = ("left", "right")
"""Answers of the ``relation`` questions that ask a side (the others, "yes" / "no", ask whether one
object is on top of another; :func:`lerf3d.scene_llm.data.questions.relation_questions`)."""
EXAMPLES_SHOWN = 12
"""Answers ``lerf3d llm-eval`` prints after its table, for reading (the report keeps every one)."""


@dataclass(frozen=True)
class MethodScore:
    """Exact-match accuracy of one method."""

    method: str
    """Method name."""
    per_type: dict[str, float]
    """Question type -> accuracy in [0, 1]."""
    overall: float
    """Accuracy over all questions the method answers."""
    exists_yes: float | None = None
    """Existence questions whose answer is "yes" (the object is there) answered "yes"; None: none asked."""
    exists_no: float | None = None
    """Existence questions whose answer is "no" answered "no"."""
    relation_sides: float | None = None
    """The ``relation`` questions asking left or right (seen from the south wall), apart from the
    "is X on top of Y" questions that share the type; None: none asked."""
    relation_on_top: float | None = None
    """The ``relation`` questions asking whether one object is on top of another."""


@dataclass(frozen=True)
class EvalReport:
    """Scores of every method on one split."""

    split: str
    """Dataset split evaluated."""
    counts: dict[str, int]
    """Question type -> number of questions."""
    scores: list[MethodScore]
    """One per method."""
    grounding: dict[str, float] | None = None
    """Runs trained on grounded answers: per question type, of the questions whose answer grounds on
    the scene's tokens, the share whose prediction names exactly those identifiers
    (:func:`grounding_scores`); None for other runs."""
    listing: dict[str, dict[str, int]] | None = None
    """Runs trained on grounded answers: per listing type (count, existence), how many predictions
    list exactly the grounded identifiers, too few, too many or others (:func:`listing_outcomes`);
    None for other runs."""
    outcomes: list[Outcome] | None = None
    """The scene model's answer to each question, right or not (what ``--against`` compares)."""
    intervals: dict[str, dict[str, tuple[float, float]]] | None = None
    """Per scene-model row (all questions; trained wordings and held-out wording apart): its exact
    match per type and over all as 95 % intervals over the evaluated rooms
    (:func:`~lerf3d.scene_llm.use.intervals.method_intervals`)."""

    def examples(self, count: int = EXAMPLES_SHOWN) -> list[dict[str, str]]:
        """The first ``count`` (question, answer, prediction) triples of the scene model, for reading
        (read from :attr:`outcomes`, which keep every one)."""
        return [{"question": o.question, "answer": o.answer, "prediction": o.prediction}
                for o in (self.outcomes or [])[:count]]

    def table(self) -> str:
        """A markdown table: methods x question types."""
        types = sorted(self.counts)
        head = "| method | " + " | ".join(f"{t} ({self.counts[t]})" for t in types) + " | all |"
        rule = "|" + "---|" * (len(types) + 2)
        rows = [f"| {s.method} | " + " | ".join(f"{s.per_type[t]:.2f}" if t in s.per_type else "–"
                                                for t in types)
                + f" | {s.overall:.2f} |" for s in self.scores]
        rates = [f"{s.method}: exists yes-rate {s.exists_yes:.2f}, no-rate {s.exists_no:.2f}"
                 for s in self.scores if s.exists_yes is not None and s.exists_no is not None]
        rates += [f"{s.method}: relation left/right {s.relation_sides:.2f}, on top {s.relation_on_top:.2f}"
                  for s in self.scores if s.relation_sides is not None and s.relation_on_top is not None]
        grounded = (["", "scene-llm named the objects its answer rests on (grounding): "
                     + ", ".join(f"{t} {v:.2f}" for t, v in sorted(self.grounding.items()))]
                    if self.grounding else [])
        listed = ([f"scene-llm listed ({' / '.join(LIST_OUTCOMES)}): "
                   + ", ".join(f"{t} " + " / ".join(str(n[o]) for o in LIST_OUTCOMES)
                               for t, n in sorted(self.listing.items()))]
                  if self.listing else [])
        rooms = len({o.scene for o in self.outcomes or ()})
        spread = [interval_line(m, v, rooms) for m, v in (self.intervals or {}).items()]
        return "\n".join([head, rule, *rows, *spread, *([""] + rates if rates else []), *grounded, *listed])


def exact_match_scores(method: str, records: Sequence[QARecord], predictions: Sequence[str | None],
                       vocabulary: Sequence[str] = ()) -> MethodScore:
    """Accuracy per type; a ``None`` prediction means the method does not answer that question (it
    is left out, and a type with no answered question is left out of ``per_type``). Answers match
    after ``normalise_answer`` (with ``vocabulary``, a label's plural reads as the label)."""
    hits: dict[str, list[bool]] = defaultdict(list)
    exists: dict[str, list[bool]] = defaultdict(list)
    relation: dict[str, list[bool]] = defaultdict(list)
    for record, prediction in zip(records, predictions, strict=True):
        if prediction is None:
            continue
        right = answers_match(prediction, record.answer, vocabulary)
        hits[record.type].append(right)
        if record.type == "exists":
            exists[normalise_answer(record.answer, vocabulary)].append(right)
        if record.type == "relation":  # left/right answers are the side questions, yes/no the on-top ones
            side = normalise_answer(record.answer, vocabulary) in SIDE_ANSWERS
            relation["sides" if side else "on top"].append(right)
    per_type = {t: sum(h) / len(h) for t, h in hits.items()}
    answered = sum(len(h) for h in hits.values())
    overall = sum(sum(h) for h in hits.values()) / max(1, answered)

    def rate(group: dict[str, list[bool]], key: str) -> float | None:
        return sum(group[key]) / len(group[key]) if group[key] else None

    return MethodScore(method, per_type, overall, rate(exists, "yes"), rate(exists, "no"),
                       rate(relation, "sides"), rate(relation, "on top"))


def named_identifiers(text: str) -> list[int]:
    """The identifiers ``<objK>`` a grounded answer names (:func:`split_grounding`), sorted (K only)."""
    return sorted(int(k) for k in IDENTIFIER_PATTERN.findall(split_grounding(text)[0]))


GroundedList = tuple[str, list[int], list[int]]
"""(question type, identifiers the prediction names, identifiers the grounded answer names)."""


def grounded_lists(records: Sequence[QARecord], predictions: Sequence[str], store: TokenStore,
                   listed: bool = True) -> list[GroundedList]:
    """One :data:`GroundedList` per question whose answer grounds on the scene's tokens
    (:func:`~lerf3d.scene_llm.train.grounding.grounded_answer`; an absent label names none; counting
    and existence only when the run trained them ``listed``): what :func:`grounding_scores` and
    :func:`listing_outcomes` read, matched to the tokens once."""
    out = []
    for record, prediction in zip(records, predictions, strict=True):
        expected = grounded_answer(record, store.scene(record.scene), listed=listed)
        if expected is not None:
            out.append((record.type, named_identifiers(prediction), named_identifiers(expected)))
    return out


def grounding_scores(lists: Sequence[GroundedList]) -> dict[str, float]:
    """Per type: the share of predictions that name exactly the identifiers the grounded answer names."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for kind, named, expected in lists:
        hits[kind].append(named == expected)
    return {t: sum(h) / len(h) for t, h in hits.items()}


LIST_OUTCOMES = ("exact", "too few", "too many", "other")
"""How the identifiers a listing answer names compare with the grounded ones (:func:`list_outcome`)."""


def list_outcome(named: Collection[int], expected: Collection[int]) -> str:
    """"exact"; "too few" (a strict subset: objects left out); "too many" (a strict superset: other
    objects listed as well); "other" (some left out and some added)."""
    named, expected = set(named), set(expected)
    if named == expected:
        return "exact"
    if named < expected:
        return "too few"
    return "too many" if named > expected else "other"


def listing_outcomes(lists: Sequence[GroundedList]) -> dict[str, dict[str, int]]:
    """Per listing type (count, existence: every object of the asked label is listed), how many
    predictions fall under each of :data:`LIST_OUTCOMES`: tells a count that leaves objects out from
    one that adds others."""
    outcomes: dict[str, Counter] = defaultdict(Counter)
    for kind, named, expected in lists:
        if kind in LISTED_TYPES:
            outcomes[kind][list_outcome(named, expected)] += 1
    return {t: {o: n[o] for o in LIST_OUTCOMES} for t, n in outcomes.items()}


def majority_predictions(
    train: Sequence[QARecord], records: Sequence[QARecord], by_question: bool
) -> list[str]:
    by_type: dict[str, Counter] = defaultdict(Counter)
    by_text: dict[str, Counter] = defaultdict(Counter)
    for r in train:
        by_type[r.type][normalise_answer(r.answer)] += 1
        by_text[r.question][normalise_answer(r.answer)] += 1
    out = []
    for r in records:
        counter = by_text.get(r.question) if by_question else None
        counter = counter or by_type.get(r.type) or Counter({"": 1})
        out.append(min(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0])  # ties: alphabetical
    return out


def model_predictions(run: LoadedRun, records: Sequence[QARecord], store: TokenStore | None,
                      max_new_tokens: int) -> list[str]:
    """Answers of the run (``store`` None: without scene tokens), in batches of EVAL_BATCH."""
    out: list[str] = []
    for start in tqdm(range(0, len(records), EVAL_BATCH), desc="answers", unit="batch", leave=False):
        chunk = records[start : start + EVAL_BATCH]
        tokens = [store.tokens_for(r.scene, r.frame) if store is not None else None for r in chunk]
        out += run.model.answer(tokens, [r.question for r in chunk], max_new_tokens)
    return out


def base_llm_context(run: LoadedRun):
    """A context in which the run's LLM is its base model: adapters disabled for LoRA; stage-1 runs
    never changed it. Full fine-tuning replaced the weights, so there is no base to return to here."""
    from peft import PeftModel

    if isinstance(run.model.llm, PeftModel):
        return run.model.llm.disable_adapter()
    if run.stage == 1 or run.config.stage2.llm_mode == "frozen":
        return contextlib.nullcontext()
    raise ValueError("text-only baseline of a fully fine-tuned run needs the base LLM: evaluate with "
                     "baselines=False or from a LoRA run")


def evaluate_run(run_dir: str | Path, dataset_dir: str | Path, split: str = "test", limit: int | None = None,
                 baselines: bool = True, device: str = "cpu", train_dataset: str | Path | None = None) -> EvalReport:
    """Score the run's latest stage on stage-2 questions of ``split`` (see the module docstring); the
    majority baselines count the training answers of ``train_dataset`` (default: ``dataset_dir``)."""
    dataset_dir = Path(dataset_dir)
    records = load_split(dataset_dir, 2, split)[:limit]
    if not records:
        raise ValueError(f"{dataset_dir}: no stage-2 questions in split {split!r}")
    run = load_scene_llm(run_dir, device=device)
    store = dataset_tokens(dataset_dir, sorted({r.scene for r in records}), run.config.tokens, device, lazy=True,
                           labels=object_labels(run_dir, run.config), template=run.config.bridge.template)
    store.pool((r.scene, r.frame) for r in records)
    vocabulary = _vocabulary(dataset_dir)
    with torch.no_grad():
        predictions = model_predictions(run, records, store, run.config.max_new_tokens)
        scores = [exact_match_scores("scene-llm", records, predictions, vocabulary)]
        held_out = [is_held_out_wording(r) for r in records]
        if any(held_out) and not all(held_out):
            for name, keep in WORDING_ROWS:
                chosen = [p if h == keep else None for p, h in zip(predictions, held_out)]
                scores.append(exact_match_scores(f"scene-llm, {name}", records, chosen, vocabulary))
        if baselines:
            with base_llm_context(run):
                blind = model_predictions(run, records, None, run.config.max_new_tokens)
            scores.append(exact_match_scores("text-only", records, blind, vocabulary))
    if baselines:
        train = load_split(Path(train_dataset) if train_dataset is not None else dataset_dir, 2, "train")
        for name, by_question in (("majority-type", False), ("majority-question", True)):
            guesses = majority_predictions(train, records, by_question)
            scores.append(exact_match_scores(name, records, guesses, vocabulary))
        readout = readout_predictions(run, records, store, dataset_dir, device)
        if readout is not None:
            scores.append(exact_match_scores("object-readout", records, readout, vocabulary))
    lists = (grounded_lists(records, predictions, store, run.config.grounded_lists)
             if run.config.grounded_answers else None)
    outcomes = answer_outcomes(records, predictions, vocabulary)
    return EvalReport(split, dict(Counter(r.type for r in records)), scores,
                      None if lists is None else grounding_scores(lists),
                      None if lists is None else listing_outcomes(lists), outcomes, method_intervals(outcomes))


def _vocabulary(dataset_dir: Path) -> list[str]:
    """The dataset's object names (empty for hand-made datasets without ground truth)."""
    from lerf3d.scene_llm.data.dataset import load_vocabulary

    try:
        return load_vocabulary(dataset_dir)
    except FileNotFoundError:
        return []


def readout_predictions(run: LoadedRun, records: Sequence[QARecord], store: TokenStore, dataset_dir: Path,
                        device: str = "cpu") -> list[str | None] | None:
    """The object readout's answers (None where it does not answer); None when the dataset records no
    feature encoder (hand-made features) or no vocabulary, so the tokens cannot be named."""
    from lerf3d.scene_llm.tokens.prepare import PREPARE_RECORD, load_prepare_config
    from lerf3d.scene_llm.tokens.scenes import FEATURES_DIR

    prepared = dataset_dir / FEATURES_DIR / PREPARE_RECORD
    if not prepared.is_file():
        return None
    vocabulary = _vocabulary(dataset_dir)
    if not vocabulary:
        return None
    texts = label_texts(load_prepare_config(prepared).encoder, vocabulary, run.config.bridge.template, device)
    out: list[str | None] = []
    named: dict[tuple[str, str | None], list[str]] = {}
    for record in records:
        tokens = store.tokens_for(record.scene, record.frame)
        key = (record.scene, record.frame)
        if key not in named:
            named[key] = nearest_labels(tokens.features, texts, vocabulary)
        out.append(readout_answer(record, tokens, named[key], vocabulary))
    return out


def report_name(dataset_dir: Path, split: str, train_dataset: Path | None = None) -> str:
    """The report's file name in the run folder when ``--out`` is not given: ``eval_<split>.json``
    for the run's own dataset; with ``train_dataset`` (DATASET is an evaluation-only set, such as a
    second layout's rooms) ``eval_<DATASET folder>_<split>.json``, so it does not overwrite the
    report of the run's own held-out rooms."""
    return f"eval_{split}.json" if train_dataset is None else f"eval_{Path(dataset_dir).resolve().name}_{split}.json"


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the JSON report, print the markdown table and a few answers."""
    load_manifest(args.dataset)  # clear errors before the LLM loads
    out = check_output_path(args.out or args.run / report_name(args.dataset, args.split, args.train_dataset))
    if not args.run.is_dir():
        raise FileNotFoundError(f"{args.run}: no Scene-LLM run folder")
    against = load_outcomes(args.against) if args.against is not None else None  # its errors come first
    report = evaluate_run(args.run, args.dataset, args.split, args.limit, not args.no_baselines, args.device,
                          args.train_dataset)
    write_json_atomic(out, asdict(report))
    print(report.table())
    for example in report.examples():
        print(json.dumps(example))
    if against is not None:
        try:
            differences = compare_outcomes(against, report.outcomes)
        except ValueError as error:
            raise ValueError(f"{args.against}: {error} (this run's report is in {out})") from None
        print(comparison_table(differences, str(args.against)))
    print(f"report: {out}")
    return 0
