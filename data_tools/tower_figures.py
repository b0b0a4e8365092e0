"""The figures of a tower build: its saved towers, reloaded the way lerf3d loads them, on the
build's evaluation crops (:func:`evaluate`; the card is :mod:`data_tools.tower_card`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from data_tools.lit_train import attribute_table
from data_tools.tower_build_data import TowerData
from data_tools.tower_config import TowerTrainConfig
from data_tools.tower_data import CropSet, read_view, shell_labels
from data_tools.tower_eval import (
    SYNONYMS,
    attribute_accuracy,
    coverage_groups,
    dense_separation,
    encode_crops,
    grouped_top1,
    retrieval,
    rooms_per_model,
    synonym_accuracy,
)
from lerf3d.encoders import ViTDenseEncoder, build_dense_encoder, build_image_text_encoder
from lerf3d.encoders.spec import TINY_SPEC
from lerf3d.encoders.vit import ViT
from lerf3d.ground_truth import load_ground_truth


def held_out_furniture(data: TowerData) -> tuple[CropSet, torch.Tensor] | None:
    """The held-out rooms' furniture crops and their mask over all held-out crops (the room shell's
    labels are trained: they say nothing about unseen models); None without held-out rooms."""
    if data.held_out is None:
        return None
    furniture = ~torch.isin(data.held_out.labels, torch.tensor(shell_labels(data.labels), dtype=torch.int64))
    return data.held_out.subset(furniture), furniture


def evaluate(data: TowerData, out: Path, config: TowerTrainConfig, seed: int) -> dict:
    """Figures of the towers saved in ``out``, as keyword arguments of
    :class:`~data_tools.tower_card.TowerReport`."""
    encoder = build_image_text_encoder(f"{TINY_SPEC}@{out}", "cpu")
    texts = encoder.encode_text(data.labels).float()
    emb = encode_crops(encoder, data.eval)
    sets = {"unseen rooms": (emb, data.eval)}
    held = held_out_furniture(data)
    if held is not None:
        sets["held-out models"] = (encode_crops(encoder, data.held_out)[held[1]], held[0])
    frames = [(gt, f) for gt in map(load_ground_truth, data.eval_dirs) for f in sorted(gt.mask_paths)]
    pick = np.random.default_rng(seed).permutation(len(frames))[: config.dense_eval_views]
    images, masks = zip(*(read_view(*frames[i]) for i in sorted(pick)), strict=True)
    dense = build_dense_encoder(f"{TINY_SPEC}@{out}", "cpu")
    torch.manual_seed(seed)
    random_vit = ViT(dense.backbone.cfg)
    random_dense = ViTDenseEncoder("random", random_vit, dense.patch_size, dense.feature_dim, dense.target_size, "cpu")
    per_catalogue = {where: grouped_top1(e, crops, texts, data.catalogue_of_model) for where, (e, crops) in sets.items()}
    attributes = {}
    for kind, words, field_name in (("colour", data.vocab.colours, "colours"),
                                    ("material", data.vocab.materials, "materials")):
        table = attribute_table(encoder.encode_text, words, data.labels)
        for where, (embs, crops) in sets.items():
            if words:
                attributes[f"{kind}, {where}"] = attribute_accuracy(embs, crops.labels, getattr(crops, field_name), table)
    groups = coverage_groups(rooms_per_model(data.train, len(data.vocab.models)), [bool(c) for c in data.catalogue_of_model])
    return {
        "coverage": grouped_top1(emb, data.eval, texts, groups),
        "eval": retrieval(emb, data.eval, texts, data.labels, data.twins),
        "held_out": None if held is None else retrieval(*sets["held-out models"], texts, data.labels, data.twins),
        "per_catalogue": per_catalogue if config.catalogues else {},
        "attributes": attributes,
        "twins": data.twins,
        "synonyms": synonym_accuracy(emb, data.eval, encoder, data.labels, SYNONYMS),
        "dense": dense_separation(dense, list(images), list(masks)),
        "dense_random": dense_separation(random_dense, list(images), list(masks)),
    }
