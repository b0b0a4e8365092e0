"""The object layer's data: the objects of one scene, and their labels against any vocabulary.

:class:`SceneObjects` is what segmentation hands to every use (queries, exports, the viewer, the
scene LLM): per object an id, its member points, an axis-aligned box, centroid, colour, a language
embedding read from the field at the object's own scale, a DINO descriptor, the views that see it
and a confidence. Labels are never stored: :meth:`SceneObjects.label` scores the objects against
whatever phrases the caller has, with LERF relevancy against the canonical negatives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from jaxtyping import Float, Int

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.objects.naming import object_names
from lerf3d.objects.relations import resting_on
from lerf3d.query.phrases import check_phrases, encode_phrases
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, RELEVANCY_TEMPERATURE, relevancy


@dataclass(frozen=True, eq=False)
class SceneObjects:
    """Class-agnostic 3D instances of one scene (K objects over N fused points)."""

    xyz: Float[torch.Tensor, "N 3"]
    """The fused points the objects were cut from (world metres)."""
    rgb: Float[torch.Tensor, "N 3"]
    """Their colours, in [0, 1]."""
    point_object: Int[torch.Tensor, " N"]
    """Object index of each point, -1 for the room's shell and fragments."""
    box_min: Float[torch.Tensor, "K 3"]
    """Lower corner of each object's axis-aligned box (world metres)."""
    box_max: Float[torch.Tensor, "K 3"]
    """Upper corner of each object's axis-aligned box."""
    centroid: Float[torch.Tensor, "K 3"]
    """Mean of each object's member points."""
    colour: Float[torch.Tensor, "K 3"]
    """Mean colour of each object's points, in [0, 1]."""
    embedding: Float[torch.Tensor, "K D"]
    """Unit language embedding of each object: the field's at the object's own scale, averaged with
    the image-text encoder's embedding of crops of the views that show it largest when those were
    given."""
    scale: Float[torch.Tensor, " K"]
    """The world scale (m) each embedding was read at."""
    dino: Float[torch.Tensor, "K E"] | None
    """Unit DINO descriptor of each object (None when the field has no DINO head)."""
    views: tuple[tuple[str, ...], ...]
    """Per object, the frames that see it, the most-seeing first."""
    confidence: Float[torch.Tensor, " K"]
    """How much each object is one thing, in [0, 1]: the mean cosine of its points' language
    features to the object's mean feature."""
    encoder: str
    """Name of the image-text encoder whose embedding space ``embedding`` lives in."""

    def __post_init__(self) -> None:
        n, k = self.xyz.shape[0], self.box_min.shape[0]
        checks = {
            "xyz": (self.xyz, (n, 3)),
            "rgb": (self.rgb, (n, 3)),
            "point_object": (self.point_object, (n,)),
            "box_max": (self.box_max, (k, 3)),
            "centroid": (self.centroid, (k, 3)),
            "colour": (self.colour, (k, 3)),
            "scale": (self.scale, (k,)),
            "confidence": (self.confidence, (k,)),
        }
        for name, (value, shape) in checks.items():
            if tuple(value.shape) != shape:
                raise ValueError(f"SceneObjects.{name} must be {shape}, got {tuple(value.shape)}")
        if self.embedding.ndim != 2 or self.embedding.shape[0] != k:
            raise ValueError(f"SceneObjects.embedding must be ({k}, D), got {tuple(self.embedding.shape)}")
        if self.dino is not None and (self.dino.ndim != 2 or self.dino.shape[0] != k):
            raise ValueError(f"SceneObjects.dino must be ({k}, E), got {tuple(self.dino.shape)}")
        if len(self.views) != k:
            raise ValueError(f"SceneObjects.views has {len(self.views)} entries for {k} objects")
        if n and (int(self.point_object.min()) < -1 or int(self.point_object.max()) >= k):
            raise ValueError(f"SceneObjects.point_object must lie in [-1, {k}), got "
                             f"[{int(self.point_object.min())}, {int(self.point_object.max())}]")

    def __len__(self) -> int:
        return int(self.box_min.shape[0])

    @property
    def extent(self) -> Float[torch.Tensor, "K 3"]:
        """Box side lengths (m)."""
        return self.box_max - self.box_min

    @cached_property
    def support(self) -> Int[np.ndarray, " K"]:
        """Index of the object each object rests on, -1 for none
        (:func:`~lerf3d.objects.relations.resting_on`, computed once)."""
        return resting_on(self)

    def members(self, index: int) -> Int[torch.Tensor, " M"]:
        """Indices into ``xyz`` of object ``index``'s points."""
        if not 0 <= index < len(self):
            raise IndexError(f"object {index} out of range: the scene has {len(self)} objects")
        return torch.nonzero(self.point_object == index).squeeze(1)

    def label(
        self,
        phrases: Sequence[str],
        encoder: ImageTextEncoder,
        negatives: Sequence[str] = CANONICAL_NEGATIVES,
    ) -> ObjectLabels:
        """Every object scored against every phrase (LERF relevancy, canonical negatives) and named
        by one of them (:func:`~lerf3d.objects.naming.object_names`: the best, unless that is only
        what the object rests on)."""
        cleaned = check_phrases(phrases)
        if encoder.name != self.encoder:
            raise ValueError(f"these objects carry {self.encoder!r} embeddings; label them with that "
                             f"encoder, not {encoder.name!r}")
        positives = encode_phrases(encoder, cleaned)
        negative_embeddings = encode_phrases(encoder, check_phrases(negatives, "negative phrase"),
                                             what="negative phrase")
        scores = object_relevancy(self.embedding, positives, negative_embeddings)
        if len(cleaned) < 2:
            return ObjectLabels(tuple(cleaned), scores)
        return ObjectLabels(tuple(cleaned), scores, object_names(scores, self.support, self.box_min[:, 2]))


def object_relevancy(
    embeddings: Float[torch.Tensor, "K D"],
    positives: Float[torch.Tensor, "P D"],
    negatives: Float[torch.Tensor, "C D"],
    temperature: float = RELEVANCY_TEMPERATURE,
) -> Float[torch.Tensor, "K P"]:
    """LERF relevancy of each object's embedding for each phrase (the per-pixel formula, per object)."""
    if embeddings.shape[0] == 0:
        return embeddings.new_zeros(0, positives.shape[0])
    return relevancy(embeddings.float(), positives.float(), negatives.float(), temperature)


@dataclass(frozen=True, eq=False)
class ObjectLabels:
    """Relevancy of K objects for P phrases."""

    phrases: tuple[str, ...]
    """The phrases scored, in column order."""
    scores: Float[torch.Tensor, "K P"]
    """Relevancy in [0, 1]; 0.5 is neutral (LERF)."""
    chosen: Int[torch.Tensor, " K"] | None = None
    """Index of the phrase each object is named by (:mod:`~lerf3d.objects.naming`); None names
    every object by its highest score."""

    def __post_init__(self) -> None:
        if self.scores.shape != (self.scores.shape[0], len(self.phrases)):
            raise ValueError(f"ObjectLabels.scores must be (K, {len(self.phrases)}), got {tuple(self.scores.shape)}")
        if self.chosen is not None and self.chosen.shape != (self.scores.shape[0],):
            raise ValueError(f"ObjectLabels.chosen must be ({self.scores.shape[0]},), got {tuple(self.chosen.shape)}")

    @property
    def named(self) -> Int[torch.Tensor, " K"]:
        """Index of the phrase each object is named by."""
        return self.scores.argmax(dim=1) if self.chosen is None else self.chosen

    def best(self) -> list[str]:
        """Each object's name: its highest-scoring phrase, unless naming chose another."""
        if not self.phrases:
            return []
        return [self.phrases[int(i)] for i in self.named]

    def top(self, index: int, k: int = 3) -> list[tuple[str, float]]:
        """Object ``index``'s name and its next ``k - 1`` phrases by score, with their scores."""
        if not self.phrases or k < 1:
            return []
        name = int(self.named[index])
        rest = [j for j in self.scores[index].argsort(descending=True).tolist() if j != name]
        return [(self.phrases[j], float(self.scores[index, j])) for j in [name, *rest][:k]]
