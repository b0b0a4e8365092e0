"""Quality figures of the trained towers on rooms never used in training.

Image-text tower: zero-shot retrieval of a crop's label among the texts of *all* labels (the bare
label, as a LERF query is typed), overall, on large crops, per label, in the text->image direction,
on catalogue models never trained on, and with synonyms in place of labels. Dense tower: how well
its patch features tell apart the objects of a view, against a random-weight tower of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float

from data_tools.instance_contrast import centre_sample
from data_tools.lit_train import attribute_logits
from data_tools.tower_data import CropSet
from lerf3d.encoders.base import DenseFeatureEncoder, ImageTextEncoder
from lerf3d.stats import room_bootstrap

LARGE_CROP_FRACTION = 0.15
"""Crops at least this share of the image height count as "large" (the brief's second bar)."""
MIN_CELLS_PER_OBJECT = 4
"""Objects covering fewer dense-map cells are left out of the separation figures."""

SYNONYMS = (
    ("tv", "television"),
    ("fridge", "refrigerator"),
    ("trash can", "dustbin"),
    ("bookshelf", "bookcase"),
    ("closet", "wardrobe"),
    ("nightstand", "bedside table"),
    ("sink", "washbasin"),
    ("whiteboard", "white board"),
    ("guitar", "electric guitar"),
    ("piano", "grand piano"),
    ("billiard table", "pool table"),
    ("crib", "baby bed"),
    ("fire extinguisher", "extinguisher"),
    ("dresser", "drawers cabinet"),
    ("lamp", "desk lamp"),
    ("mug", "coffee cup"),
    ("houseplant", "plant"),
    ("shower", "shower stall"),
    ("loudspeaker", "speaker"),
)
"""(word a user may type, catalogue label it means): words that are not themselves labels
("sofa", "couch", "bed", "plant" are catalogue labels and are measured as such)."""


@dataclass(frozen=True)
class RetrievalReport:
    """Zero-shot label retrieval on one crop set."""

    crops: int
    """Crops evaluated."""
    top1: float
    """Share of crops whose own label's text has the highest cosine among all label texts."""
    top5: float
    """Share whose label is among the 5 best."""
    top1_large: float
    """top1 on crops of at least :data:`LARGE_CROP_FRACTION` of the image height."""
    macro_top1: float
    """Mean over labels of the per-label top1."""
    text_to_image: float
    """Share of labels whose text scores higher, on average, on crops of that label than on the
    crops of every other label (mean cosine per label pair)."""
    labels: int
    """Distinct labels among the crops."""
    per_label: dict[str, float]
    """top1 per label."""
    top1_twins: float = float("nan")
    """top1 with a label of the crop's own material-twin group (:mod:`data_tools.twins`) counted as
    right: the errors left are between models that look different."""
    top1_large_twins: float = float("nan")
    """top1_twins on large crops."""
    top1_interval: tuple[float, float] = (float("nan"), float("nan"))
    """95 % interval of top1 over rooms (:func:`lerf3d.stats.room_bootstrap`): how much the
    figure depends on which rooms were drawn for the evaluation."""
    top1_large_interval: tuple[float, float] = (float("nan"), float("nan"))
    """The same for top1_large."""


@torch.no_grad()
def encode_crops(encoder: ImageTextEncoder, crops: CropSet, batch: int = 256) -> Float[torch.Tensor, "N D"]:
    """Image embeddings of uint8 crops through the encoder's own preprocessing."""
    out = [encoder.encode_image(crops.images[i : i + batch].float() / 255.0) for i in range(0, len(crops), batch)]
    return torch.cat(out).float()


def retrieval(
    image_emb: Float[torch.Tensor, "N D"],
    crops: CropSet,
    text_emb: Float[torch.Tensor, "C D"],
    labels: list[str],
    twins: tuple[frozenset[str], ...] = (),
) -> RetrievalReport:
    """Retrieval figures of crops whose label index refers to rows of ``text_emb``; ``twins``:
    groups of labels whose confusions :attr:`RetrievalReport.top1_twins` forgives."""
    sims = image_emb @ text_emb.T  # (N, C)
    target = crops.labels
    rank = (sims > sims.gather(1, target[:, None])).sum(dim=1)  # 0 = best
    hit = rank == 0
    group = torch.arange(len(labels))  # label index -> index of its twin group's first label
    for g in twins:
        members = [labels.index(name) for name in g if name in labels]
        if members:
            group[members] = min(members)
    twin_hit = group[sims.argmax(dim=1)] == group[target]
    large = crops.tile_fractions >= LARGE_CROP_FRACTION - 1e-6
    present = sorted(set(target.tolist()))
    per_label = {labels[c]: float(hit[target == c].float().mean()) for c in present}
    # text -> image: mean cosine of each present label's text with the crops of each present label
    means = torch.stack([sims[target == c][:, present].mean(dim=0) for c in present])  # (L crops, L texts)
    own = means.diagonal()
    others = means.clone()
    others.fill_diagonal_(-float("inf"))
    text_ok = (own > others.max(dim=0).values).float().mean() if len(present) > 1 else torch.tensor(1.0)
    return RetrievalReport(
        crops=len(crops),
        top1=float(hit.float().mean()),
        top5=float((rank < 5).float().mean()),
        top1_large=float(hit[large].float().mean()) if large.any() else float("nan"),
        macro_top1=float(np.mean(list(per_label.values()))),
        text_to_image=float(text_ok),
        labels=len(present),
        per_label=per_label,
        top1_twins=float(twin_hit.float().mean()),
        top1_large_twins=float(twin_hit[large].float().mean()) if large.any() else float("nan"),
        top1_interval=room_bootstrap(hit, crops.rooms),
        top1_large_interval=room_bootstrap(hit[large], crops.rooms[large]) if large.any() else (float("nan"),) * 2,
    )


def synonym_accuracy(
    image_emb: Float[torch.Tensor, "N D"],
    crops: CropSet,
    encoder: ImageTextEncoder,
    labels: list[str],
    synonyms: tuple[tuple[str, str], ...],
) -> dict[str, tuple[float, int]]:
    """For each (synonym, label): top-1 on the label's crops when the label's text is replaced by the
    synonym's among all label texts; (accuracy, crops). Labels without crops are skipped."""
    out = {}
    base = encoder.encode_text(labels).float()
    for word, label in synonyms:
        if label not in labels:
            continue
        c = labels.index(label)
        mine = crops.labels == c
        if not mine.any():
            continue
        texts = base.clone()
        texts[c] = encoder.encode_text([word])[0].float()
        sims = image_emb[mine] @ texts.T  # (n, C)
        out[f"{word} -> {label}"] = (float((sims.argmax(dim=1) == c).float().mean()), int(mine.sum()))
    return out


def attribute_accuracy(
    image_emb: Float[torch.Tensor, "N D"], labels: torch.Tensor, targets: torch.Tensor,
    table: Float[torch.Tensor, "W C D"],
) -> tuple[float, int]:
    """(top-1, crops) of the attribute word among all words, each phrased with the crop's own label
    ("red chair" against "blue chair", :func:`data_tools.lit_train.attribute_table`), over the crops
    that have one (``targets`` >= 0); (nan, 0) when none do."""
    has = targets >= 0
    if not bool(has.any()) or table.shape[0] == 0:
        return float("nan"), 0
    sims = attribute_logits(F.normalize(image_emb[has].float(), dim=-1), table, labels[has])  # (n, W)
    return float((sims.argmax(dim=1) == targets[has]).float().mean()), int(has.sum())


def grouped_top1(
    image_emb: Float[torch.Tensor, "N D"], crops: CropSet, text_emb: Float[torch.Tensor, "C D"],
    group_of_model: list[str],
) -> dict[str, tuple[float, int]]:
    """Label top-1 (against every label text) per group of the crops' models, e.g. per catalogue:
    group -> (top-1, crops); ``group_of_model[m]`` names model m's group ("" leaves it out)."""
    hit = (image_emb @ text_emb.T).argmax(dim=1) == crops.labels
    groups = [group_of_model[m] for m in crops.models.tolist()]
    out = {}
    for name in sorted({g for g in groups if g}):
        mine = torch.tensor([g == name for g in groups])
        out[name] = (float(hit[mine].float().mean()), int(mine.sum()))
    return out


COVERAGE_BINS = (("0 rooms", 0, 0), ("1 room", 1, 1), ("2-3 rooms", 2, 3), ("4+ rooms", 4, None))
"""Groups of catalogue models by how many training rooms hold a crop of them: (name, low, high;
None: no upper end). With all five catalogues, 200 training rooms left the median model with crops
in 5 rooms and a model of one room at 23 % top-1 on unseen rooms (``docs/towers_catalogues.md``)."""


def rooms_per_model(crops: CropSet, n_models: int) -> np.ndarray:
    """(n_models,) how many distinct rooms hold at least one crop of each model."""
    pairs = torch.unique(torch.stack([crops.models, crops.rooms], dim=1), dim=0)
    return np.bincount(pairs[:, 0].numpy(), minlength=n_models)


def coverage_groups(rooms: np.ndarray, keep: list[bool], bins: tuple = COVERAGE_BINS) -> list[str]:
    """Group name of each model by its training rooms ``rooms`` (:data:`COVERAGE_BINS`); "" where
    ``keep`` is false (the room shell, which every room holds)."""
    def group(count: int) -> str:
        return next((name for name, low, high in bins if low <= count and (high is None or count <= high)), "")

    return [group(count) if wanted else "" for count, wanted in zip(rooms.tolist(), keep, strict=True)]


@dataclass(frozen=True)
class DenseReport:
    """How well dense features separate the objects of a view (means over views)."""

    views: int
    """Views evaluated."""
    centroid_accuracy: float
    """Share of map cells whose feature is nearest (cosine) to its own object's mean feature among
    the objects of the view."""
    pair_separation: float
    """Mean over object pairs of (1 - cosine of their mean features) / (mean within-object cosine
    distance): how far apart two objects are relative to their own spread."""


@torch.no_grad()
def dense_separation(
    encoder: DenseFeatureEncoder, images: list[np.ndarray], masks: list[np.ndarray]
) -> DenseReport:
    """Dense-map figures over (H, W, 3) uint8 views and their (H, W) instance masks."""
    accs, seps = [], []
    for rgb, mask in zip(images, masks, strict=True):
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0  # (3, H, W)
        feats = F.normalize(encoder.encode_dense(x).float(), dim=-1)  # (h, w, D)
        h, w, d = feats.shape
        cell_ids = torch.from_numpy(centre_sample(mask, h, w).ravel().astype(np.int64))  # (h*w,) at cell centres
        flat = feats.reshape(h * w, d)  # (h*w, D)
        ids = [i for i in cell_ids.unique().tolist() if i > 0 and (cell_ids == i).sum() >= MIN_CELLS_PER_OBJECT]
        if len(ids) < 2:
            continue
        keep = torch.isin(cell_ids, torch.tensor(ids))
        means = F.normalize(torch.stack([flat[cell_ids == i].mean(dim=0) for i in ids]), dim=-1)  # (K, D)
        nearest = (flat[keep] @ means.T).argmax(dim=1)
        truth = torch.tensor([ids.index(i) for i in cell_ids[keep].tolist()])
        accs.append(float((nearest == truth).float().mean()))
        spread = torch.stack([1 - (flat[cell_ids == i] @ means[k]).mean() for k, i in enumerate(ids)])  # (K,)
        between = 1 - means @ means.T  # (K, K)
        pairs = torch.triu_indices(len(ids), len(ids), offset=1)
        ratio = between[pairs[0], pairs[1]] / ((spread[pairs[0]] + spread[pairs[1]]) / 2).clamp_min(1e-6)
        seps.append(float(ratio.mean()))
    return DenseReport(len(accs), float(np.mean(accs)) if accs else float("nan"), float(np.mean(seps)) if seps else float("nan"))
