"""Question hints: the scene tokens whose language features best match a question, written after it.

The object tokens' language features live in the text tower's space (LiT or CLIP alignment), so the
question itself, embedded by the same tower, scores every token by cosine. The best few are
written after the question by identifier with their score in hundredths ("Matches: <obj3> 31,
<obj8> 29, <obj5> 12"): the LLM reads which objects the question is about and how well each
matches, and still decides which of them its answer rests on. It is retrieval in front of the
decoder (as retrieval-augmented LMs put retrieved passages in the prompt), with the LLM's own
identifiers as the retrieved items.

Why: a 135M decoder fine-tuned on a few thousand questions finds some but not all of the tokens
whose spelled name is the asked label (counting lists leave objects out). The question's embedding
ranks the asked objects above the rest of their room almost always (on the demo recipe's held-out
rooms the gold tokens of 36 of 38 count questions were exactly its top ones), so the hint turns
"find every occurrence" into "keep the candidates that score high", a per-candidate decision.

Pure functions (:func:`match_scores`, :func:`hint_text`, :func:`hinted_question`) and one small
holder (:class:`QuestionHints`) with the text tower and a per-question embedding cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float

from lerf3d.scene_llm.model.splice import identifier_text

HINT_PREFIX = "Matches:"
"""What opens the hint line written after a question."""


def match_scores(
    language: Float[torch.Tensor, "T F"], question: Float[torch.Tensor, "F"]
) -> Float[torch.Tensor, "T"]:
    """Cosine of each token's language feature with the question's embedding (same text space)."""
    if language.shape[-1] != question.shape[-1]:
        raise ValueError(f"token features are {language.shape[-1]} wide, the question's embedding "
                         f"{question.shape[-1]}: not the features' text tower")
    return F.normalize(language.float(), dim=-1) @ F.normalize(question.float(), dim=-1)


SCORE_DIGITS = (0, 1, 2)
"""How many digits a hint may write each candidate's score with: none, tenths, hundredths."""


def check_score_digits(digits: int, name: str = "digits") -> None:
    """A ValueError naming ``name`` unless ``digits`` is one of :data:`SCORE_DIGITS`."""
    if digits not in SCORE_DIGITS:
        raise ValueError(f"{name} must be one of {SCORE_DIGITS} (a hint's score digits), got {digits}")


def hint_text(scores: Float[torch.Tensor, "T"], count: int, digits: int = 2) -> str:
    """The ``count`` best tokens by identifier, best first, each with its score in ``digits`` digits,
    clamped at 0 and below 1: hundredths ``"Matches: <obj3> 31, <obj8> 29"`` (2), tenths
    ``"Matches: <obj3> 3, <obj8> 3"`` (1), or the identifiers only, ``"Matches: <obj3>, <obj8>"`` (0);
    ``"Matches: none"`` for no tokens."""
    if count < 1:
        raise ValueError(f"a hint names at least one token, got count={count}")
    check_score_digits(digits)
    if scores.numel() == 0:
        return f"{HINT_PREFIX} none"
    best = torch.topk(scores.float(), min(count, scores.numel()))
    scale = 10 ** digits
    parts = [identifier_text(k) + (f" {min(scale - 1, max(0, round(s * scale)))}" if digits else "")
             for s, k in zip(best.values.tolist(), best.indices.tolist())]
    return f"{HINT_PREFIX} {', '.join(parts)}"


def hinted_question(question: str, hint: str) -> str:
    """The question as the LLM reads it: the question, then the hint on a line of its own."""
    return f"{question}\n{hint}"


class QuestionHints:
    """Writes :func:`hinted_question` for questions, each over the projector inputs of its scene tokens.

    ``encode_text``: the features' text tower (``list[str] -> (P, F)``); ``feature_dim``: F, the width
    of the language features at the front of each projector input; ``count``: tokens per hint;
    ``digits``: how each one's score is written (:func:`hint_text`).
    Question embeddings are cached by text (training asks the same questions many times), and the
    ones not cached yet are embedded in one call."""

    def __init__(self, encode_text: Callable[[list[str]], torch.Tensor], feature_dim: int, count: int,
                 cache_size: int = 65536, digits: int = 2) -> None:
        check_score_digits(digits)
        self.encode_text = encode_text
        self.feature_dim = feature_dim
        self.count = count
        self.digits = digits
        self.cache_size = cache_size
        self._cache: dict[str, torch.Tensor] = {}

    def embeddings(self, questions: list[str]) -> list[Float[torch.Tensor, "F"]]:
        """The text tower's embedding of each question (float32, on the CPU), cached."""
        missing = sorted({q for q in questions if q not in self._cache})
        if missing:
            with torch.no_grad():
                encoded = self.encode_text(missing).detach().float().cpu()
            if len(self._cache) + len(missing) > self.cache_size:
                self._cache.clear()
            self._cache.update(zip(missing, encoded))
        return [self._cache[q] for q in questions]

    def lines(self, questions: list[str], scene_inputs: Sequence[Float[torch.Tensor, "T d_in"]]) -> list[str]:
        """Each question's hint line over its own scene tokens (``scene_inputs[i]`` for question i)."""
        if len(scene_inputs) != len(questions):
            raise ValueError(f"need one token set per question, got {len(scene_inputs)} and {len(questions)}")
        return [hint_text(match_scores(x[..., : self.feature_dim].detach().cpu(), e), self.count, self.digits)
                for x, e in zip(scene_inputs, self.embeddings(questions))]

    def __call__(self, questions: list[str], scene_inputs: Sequence[Float[torch.Tensor, "T d_in"]]) -> list[str]:
        """Each question followed by its hint line (:meth:`lines`)."""
        return [hinted_question(q, h) for q, h in zip(questions, self.lines(questions, scene_inputs))]
