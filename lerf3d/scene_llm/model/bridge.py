"""A linear bridge from the image-text encoder's space to the LLM's word embeddings, fitted on text.

The language features of scene tokens live in the text tower's space (CLIP's, or MiniLM's for the
embedded towers: LiT aligns images to a frozen text tower). Both that tower and the LLM embed words,
so the map between the two spaces can be fitted on words alone, before any scene is seen: ridge
regression from the text tower's embedding of each word to the LLM's input embedding of it. A
projector that starts as this map hands the LLM a token near the embedding of "chair" for a chair's
feature, so training starts from tokens the LLM already reads as words, instead of from noise. The
same idea as initialising a vision-language projector from paired text (our choice; LLaVA starts
its projector from random weights and needs ~600k captions to align it).

Two kinds. ``linear``: ridge regression over the LLM's common whole words. A regression from one
embedding space to another explains little of the variance, so its outputs shrink towards the
mean word embedding: every object of a room then looks alike to the LLM. ``labels``: a soft
nearest-label lookup, softmax(tau cos(feature, text(label))) . embed(label), over the names the
image tower was trained on (a dataset's vocabulary): a chair's token starts near the LLM's own
embedding of " chair", as distinct as the words are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import nn

WORD_MARKERS = ("\u0120", "\u2581")
"""Start-of-word markers of byte-level BPE (GPT-2, Llama-3, SmolLM2: "Ġ") and SentencePiece ("▁")."""


@dataclass(frozen=True)
class BridgeConfig:
    """Whether and how to fit the bridge (stage 1 then trains it with the rest of the projector)."""

    enabled: bool = False
    """Add the bridge to the projector and fit it on words; off: the plain LLaVA projector."""
    kind: Literal["linear", "labels"] = "linear"
    """"linear": ridge regression over the LLM's common words; "labels": soft nearest label over the
    dataset's vocabulary (:class:`LabelBridge`)."""
    template: str = "a photo of a {}"
    """How a label is written for the text tower (the prompt the image tower was aligned to)."""
    temperature: float = 50.0
    """Initial softmax sharpness of the label lookup (a trained parameter; CLIP-style towers learn
    ~1/0.02)."""
    slots: int = 1
    """LLM positions per object with a label bridge. 1: one token, the mean of the name's token
    embeddings. K > 1: the name spelled out, one of its token embeddings per position, then
    ``separator`` (repeated to fill K; a longer name is cut): the LLM reads an object the way it reads
    the words of its name, so matching a question's words against the scene is the copy-and-compare
    it already does on text. A mean embedding is not a word, and a 135M model fine-tuned on a few
    hundred questions did not learn to match it (measured: existence at chance)."""
    mlp_slot: bool = False
    """With ``kind="labels"``: the projector's MLP output (where the object is, how it looks) takes a
    position of its own after the name instead of being added to the name's slots
    (:attr:`~lerf3d.scene_llm.model.projector.ProjectorConfig.mlp_slot`): the name then stays the
    LLM's exact words, which its attention matches against the question's words."""
    separator: str = ","
    """What follows a spelled-out name (``slots`` > 1), as the LLM writes a list."""
    extra_labels: tuple[str, ...] = ("floor", "wall")
    """Names added to a dataset's vocabulary: the room structure the towers also know. Segment tokens
    have the room's shell taken away, so for them these names only misname things on the walls and
    floor (a calendar's crops are mostly wall): with the shipped weights' tokens, 19 of 179 on the
    held-out rooms were named "wall" or "floor", all on furniture; ``()`` names them among the
    furniture names only, as the object layer names its objects (README, Scene LLM)."""
    num_words: int = 4000
    """Whole-word tokens of the LLM's vocabulary used for the fit, in vocabulary order (BPE merges
    come roughly in frequency order, so these are the common words); ten times the 384 dimensions of
    MiniLM, and a MiniLM pass over them is seconds on a CPU."""
    ridge: float = 0.1
    """Ridge penalty relative to the mean eigenvalue of the text features' Gram matrix."""

    def __post_init__(self) -> None:
        if self.num_words < 16 or not self.ridge > 0:
            raise ValueError(f"a bridge needs num_words >= 16 and ridge > 0: {self}")
        if self.kind not in ("linear", "labels"):
            raise ValueError(f"BridgeConfig.kind must be 'linear' or 'labels', got {self.kind!r}")
        if not isinstance(self.slots, int) or self.slots < 1:
            raise ValueError(f"BridgeConfig.slots must be an int >= 1, got {self.slots!r}")
        if self.mlp_slot and self.kind != "labels":
            raise ValueError("BridgeConfig.mlp_slot puts the MLP's output beside a spelled label: it needs "
                             "kind='labels'")
        if self.slots > 1 and self.kind != "labels":
            raise ValueError("BridgeConfig.slots > 1 spells out label names: it needs kind='labels'")
        if not self.temperature > 0 or "{}" not in self.template:
            raise ValueError(f"a bridge needs temperature > 0 and a template with '{{}}': {self}")

    @property
    def uses_labels(self) -> bool:
        """True when the projector gets a label lookup over a dataset's vocabulary."""
        return self.enabled and self.kind == "labels"


def vocabulary_words(tokenizer, limit: int, min_length: int = 3) -> list[str]:
    """Up to ``limit`` lower-case alphabetic whole-word tokens of ``tokenizer``, in id order."""
    words = []
    for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]):
        if (
            token[:1] in WORD_MARKERS
            and token[1:].isalpha()
            and token[1:].islower()
            and len(token) > min_length
        ):
            words.append(token[1:])
            if len(words) == limit:
                break
    return words


def word_embeddings(tokenizer, embedding: torch.nn.Embedding, words: list[str]) -> Float[torch.Tensor, "N H"]:
    """The LLM's input embedding of each word as it appears mid-sentence (" word"), averaged over
    its tokens when it splits."""
    weight = embedding.weight.detach().float()
    return torch.stack([weight[torch.tensor(_word_ids(tokenizer, word), device=weight.device)].mean(0)
                        for word in words])


def _word_ids(tokenizer, word: str) -> list[int]:
    """Token ids of ``word`` as it appears mid-sentence (" word")."""
    return tokenizer(" " + word, add_special_tokens=False)["input_ids"]


def spelled_embeddings(
    tokenizer, embedding: torch.nn.Embedding, words: Sequence[str], slots: int, separator: str
) -> Float[torch.Tensor, "N K H"]:
    """Each word as the LLM reads it mid-list: the input embeddings of the tokens of " word" then
    those of ``separator``, cut or padded (with the separator's last token) to ``slots`` positions."""
    weight = embedding.weight.detach().float()
    sep = tokenizer(separator, add_special_tokens=False)["input_ids"]
    if not sep:
        raise ValueError(f"the separator {separator!r} tokenises to nothing")
    rows = []
    for word in words:
        ids = (_word_ids(tokenizer, word) + sep)[:slots]
        ids = ids + [sep[-1]] * (slots - len(ids))
        rows.append(weight[torch.tensor(ids, device=weight.device)])  # (K, H)
    return torch.stack(rows)


def fit_bridge(
    text: Float[torch.Tensor, "N F"], target: Float[torch.Tensor, "N H"], ridge: float
) -> tuple[Float[torch.Tensor, "F H"], Float[torch.Tensor, " H"]]:
    """(W, b) minimising ||(text - mean) W + b - target||^2 + lambda ||W||^2, lambda = ``ridge`` x the
    mean eigenvalue of the centred Gram matrix: a least-squares affine map from one space to the other."""
    text, target = text.double(), target.double()
    text_mean, target_mean = text.mean(0), target.mean(0)
    x, y = text - text_mean, target - target_mean  # (N, F), (N, H)
    gram = x.T @ x  # (F, F)
    penalty = ridge * gram.trace() / gram.shape[0]
    weight = torch.linalg.solve(
        gram + penalty * torch.eye(gram.shape[0], dtype=gram.dtype), x.T @ y
    )  # (F, H)
    bias = target_mean - text_mean @ weight
    return weight.float(), bias.float()


def text_bridge(
    encode_text, tokenizer, embedding: torch.nn.Embedding, cfg: BridgeConfig, batch_size: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit the bridge for a text tower (``encode_text(list[str]) -> (P, F)``) and an LLM's tokenizer
    and input embedding."""
    words = vocabulary_words(tokenizer, cfg.num_words)
    if len(words) < 16:
        raise ValueError(f"the tokenizer has only {len(words)} whole-word tokens: too few to fit a bridge")
    with torch.no_grad():
        text = torch.cat(
            [encode_text(words[i : i + batch_size]).float().cpu() for i in range(0, len(words), batch_size)]
        )
        target = word_embeddings(tokenizer, embedding, words).cpu()
    return fit_bridge(text, target, cfg.ridge)


class LabelBridge(nn.Module):
    """softmax(tau cos(x, key_v)) . value_v: a feature -> the LLM embedding of its nearest labels.

    ``keys`` (V, F) are the text tower's unit embeddings of the labels, ``values`` the LLM's input
    embeddings of the same labels: (V, H) with one slot, (V, K, H) spelled out over ``slots`` = K
    positions (output (..., K, H)); both are buffers (saved with the projector, not trained), tau is
    trained. Zero buffers and tau = 1 until :meth:`set_labels`.
    """

    def __init__(self, in_features: int, num_labels: int, out_features: int, slots: int = 1) -> None:
        super().__init__()
        self.in_features = in_features
        shape = (num_labels, out_features) if slots == 1 else (num_labels, slots, out_features)
        self.register_buffer("keys", torch.zeros(num_labels, in_features))
        self.register_buffer("values", torch.zeros(shape))
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def scores(self, x: Float[torch.Tensor, "... F"]) -> Float[torch.Tensor, "... V"]:
        """Cosine of each feature with every label's key."""
        return F.normalize(x, dim=-1) @ self.keys.T

    def forward(self, x: Float[torch.Tensor, "... F"]) -> Float[torch.Tensor, "... H"]:
        scores = self.scores(x)  # (..., V)
        weights = torch.softmax(self.log_temperature.exp() * scores, dim=-1)  # (..., V)
        out = weights @ self.values.flatten(1)  # (..., K * H)
        return out if self.values.dim() == 2 else out.unflatten(-1, self.values.shape[1:])  # (..., K, H)

    def nearest(self, x: Float[torch.Tensor, "... F"]) -> Int[torch.Tensor, "..."]:
        """Index of each feature's best label (the largest weight of :meth:`forward`'s lookup); ``x``
        on any device or dtype (read as the keys')."""
        return self.scores(x.to(self.keys)).argmax(dim=-1)

    def set_labels(
        self, keys: Float[torch.Tensor, "V F"], values: Float[torch.Tensor, "V H"], temperature: float
    ) -> None:
        if tuple(keys.shape) != tuple(self.keys.shape) or tuple(values.shape) != tuple(self.values.shape):
            raise ValueError(f"label bridge needs keys {tuple(self.keys.shape)} and values "
                             f"{tuple(self.values.shape)}, got {tuple(keys.shape)} and {tuple(values.shape)}")
        with torch.no_grad():
            self.keys.copy_(F.normalize(keys.float(), dim=-1))
            self.values.copy_(values)
            self.log_temperature.fill_(math.log(temperature))


def bridge_labels(vocabulary: Sequence[str], cfg: BridgeConfig) -> list[str]:
    """The sorted, de-duplicated names a label bridge looks up (vocabulary + ``cfg.extra_labels``)."""
    labels = sorted({v.strip().lower() for v in (*vocabulary, *cfg.extra_labels) if v.strip()})
    if len(labels) < 2:
        raise ValueError(f"a label bridge needs at least two labels, got {labels}")
    return labels


def label_bridge_tables(
    encode_text, tokenizer, embedding: torch.nn.Embedding, labels: Sequence[str], cfg: BridgeConfig
) -> tuple[Float[torch.Tensor, "V F"], Float[torch.Tensor, "V H"]]:
    """(keys, values) of a :class:`LabelBridge`: the text tower's embedding of each label written
    with ``cfg.template``, and the LLM's input embedding of the label: (V, H), the mean over its
    tokens, with one slot; (V, K, H) spelled out (:func:`spelled_embeddings`) with ``cfg.slots`` = K."""
    with torch.no_grad():
        keys = encode_text([cfg.template.format(label) for label in labels]).float().cpu()
        if cfg.slots == 1:
            values = word_embeddings(tokenizer, embedding, list(labels)).cpu()
        else:
            values = spelled_embeddings(tokenizer, embedding, labels, cfg.slots, cfg.separator).cpu()
    return keys, values
