"""What a room's tokens say on their own: each token named by its nearest label, no LLM.

A Scene-LLM counts and finds objects only as well as its tokens carry their names. This reads the
tokens the way the projector's label bridge starts out reading them (cosine of a token's feature
with the text tower's embedding of every label, best label wins) and reports two things:

- how many of the labels present in a room some token names;
- how answers read straight off the object tokens score, with no LLM: a count is the number of
  tokens named X, existence whether there is one, the nearest object to X the label of the token
  whose box is closest to X's (the scene-graph link's nearest,
  :func:`~lerf3d.scene_llm.model.links.nearest_tokens`). The object a question is about is the
  longest of the vocabulary's names it mentions, whatever its wording.

Both are ceilings-of-a-kind for the model: it rarely counts better than its tokens name things; the
LLM earns its place on what such a readout cannot answer and where it beats it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float

from lerf3d.scene_llm.data.dataset import QARecord
from lerf3d.scene_llm.data.language import answers_match
from lerf3d.scene_llm.model.links import nearest_tokens
from lerf3d.scene_llm.tokens.frames import SceneTokens
from lerf3d.scene_llm.use.explain import mentioned_labels

READOUT_TYPES = ("count", "exists", "nearest")
"""Question types the readout answers."""


@dataclass(frozen=True)
class TokenReadout:
    """Nearest-label reading of the tokens of a set of rooms."""

    labels_named: int
    """(room, label) pairs of furniture present in a room that at least one of its tokens names."""
    labels_present: int
    """(room, label) pairs of furniture present."""
    scores: dict[str, float]
    """Exact match of the token counter per question type it answers ("count", "exists")."""
    questions: dict[str, int]
    """Questions per type."""


def label_texts(encoder_spec: str, labels: Sequence[str], template: str, device: str = "cpu") -> Float[torch.Tensor, "L F"]:
    """The text tower of ``encoder_spec``'s embedding of ``template.format(label)`` for each label: what
    :func:`nearest_labels` compares tokens with (the bridge's phrase, so tokens read as the bridge reads them)."""
    from lerf3d.encoders import build_image_text_encoder

    encoder = build_image_text_encoder(encoder_spec, device)
    with torch.no_grad():
        return encoder.encode_text([template.format(label) for label in labels]).float().cpu()


def nearest_labels(
    features: Float[torch.Tensor, "T F"], label_texts: Float[torch.Tensor, "L F"], labels: Sequence[str]
) -> list[str]:
    """The label whose text embedding has the highest cosine with each token's feature."""
    if len(features) == 0:
        return []
    sims = F.normalize(features.float(), dim=-1) @ F.normalize(label_texts.float(), dim=-1).T  # (T, L)
    return [labels[i] for i in sims.argmax(dim=1).tolist()]


def subject_label(question: str, vocabulary: Sequence[str]) -> str | None:
    """The object a count / existence / nearest question is about: the longest vocabulary name it
    mentions (None when it mentions none)."""
    found = mentioned_labels(question, vocabulary)
    return found[0] if found else None


def readout_answer(record: QARecord, tokens: SceneTokens, token_labels: Sequence[str],
                   vocabulary: Sequence[str]) -> str | None:
    """The object tokens' own answer to a count, existence or nearest question; None for other
    types or when the question names no known object (or, for nearest, no token carries it)."""
    if record.type not in READOUT_TYPES:
        return None
    label = subject_label(record.question, vocabulary)
    if label is None:
        return None
    named = [i for i, name in enumerate(token_labels) if name == label]
    if record.type == "count":
        return str(len(named))
    if record.type == "exists":
        return "yes" if named else "no"
    if not named or tokens.num_tokens < 2:
        return None
    lower = tokens.xyz if tokens.lower is None else tokens.lower
    upper = tokens.xyz if tokens.upper is None else tokens.upper
    nearest = nearest_tokens(lower[None], upper[None], torch.ones(1, tokens.num_tokens, dtype=torch.bool))
    return token_labels[int(nearest[0, named[0]])]


def counter_answer(record: QARecord, named: Counter, vocabulary: Sequence[str]) -> str | None:
    """A count or existence answer from how many tokens carry each name; None for other questions."""
    if record.type not in ("count", "exists"):
        return None
    label = subject_label(record.question, vocabulary)
    if label is None:
        return None
    return str(named[label]) if record.type == "count" else ("yes" if named[label] else "no")


def readout(
    records: Sequence[QARecord],
    named: Mapping[str, Counter],
    present: Mapping[str, set[str]],
    vocabulary: Sequence[str],
) -> TokenReadout:
    """Score the token counter on ``records``. ``named``: scene -> Counter of its tokens' nearest
    labels; ``present``: scene -> furniture labels of its ground truth."""
    right, total = Counter(), Counter()
    for record in records:
        answer = counter_answer(record, named[record.scene], vocabulary)
        if answer is None:
            continue
        total[record.type] += 1
        right[record.type] += answers_match(answer, record.answer, vocabulary)
    pairs = [(scene, label) for scene in sorted(present) for label in sorted(present[scene])]
    return TokenReadout(
        labels_named=sum(1 for scene, label in pairs if named[scene][label] > 0),
        labels_present=len(pairs),
        scores={t: right[t] / total[t] for t in sorted(total)},
        questions=dict(sorted(total.items())),
    )


def token_readout(
    dataset_dir: str | Path,
    records: Sequence[QARecord],
    tokens_of: Callable[[str], torch.Tensor],
    encode_text: Callable[[list[str]], torch.Tensor],
    template: str,
) -> TokenReadout:
    """:func:`readout` of a dataset's records: ``tokens_of(scene)`` gives a scene's token features,
    ``encode_text`` the text tower, ``template`` the label's phrase (the bridge's)."""
    from lerf3d.ground_truth import load_ground_truth
    from lerf3d.scene_llm.data.dataset import load_manifest, load_vocabulary

    vocabulary = load_vocabulary(dataset_dir)
    manifest = load_manifest(dataset_dir)
    texts = encode_text([template.format(label) for label in vocabulary]).float()
    scenes = sorted({r.scene for r in records})
    named = {s: Counter(nearest_labels(tokens_of(s), texts, vocabulary)) for s in scenes}
    present = {s: {o.label for o in load_ground_truth(manifest[s].capture).furniture} for s in scenes}
    return readout(records, named, present, vocabulary)
