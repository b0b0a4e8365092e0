"""The dense tower's patch instance contrast: patch ids of augmented crops, the loss, training."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from data_tools.dino_train import DinoConfig, multi_crop, train_dino
from data_tools.instance_contrast import instance_contrast, patch_ids
from data_tools.tower_augment import ColorJitterConfig


def _halves(h: int = 4, w: int = 8) -> torch.Tensor:
    """One (1, h, w) mask: instance 1 on the left half, 2 on the right."""
    mask = torch.ones(1, h, w, dtype=torch.int16)
    mask[:, :, w // 2 :] = 2
    return mask


def test_patch_ids_follow_the_box_and_the_mirror() -> None:
    masks, index = _halves(), torch.zeros(1, dtype=torch.long)
    whole = torch.tensor([[0.0, 0.0, 8.0, 4.0]])
    assert patch_ids(masks, index, whole, torch.tensor([False]), 2).tolist() == [[1, 2, 1, 2]]
    assert patch_ids(masks, index, whole, torch.tensor([True]), 2).tolist() == [[2, 1, 2, 1]]
    right = torch.tensor([[4.0, 0.0, 8.0, 4.0]])
    assert patch_ids(masks, index, right, torch.tensor([False]), 2).tolist() == [[2, 2, 2, 2]]


def _by_hand(tokens: torch.Tensor, ids: list[int], temperature: float) -> float:
    """The SupCon formula with explicit loops over anchors, positives and candidates."""
    z = [t / t.norm() for t in tokens]
    total, anchors = 0.0, 0
    for i, id_i in enumerate(ids):
        positives = [p for p, id_p in enumerate(ids) if p != i and id_p == id_i and id_i != 0]
        if not positives:
            continue
        denominator = sum(math.exp(float(z[i] @ z[a]) / temperature) for a in range(len(ids)) if a != i)
        total += -sum(math.log(math.exp(float(z[i] @ z[p]) / temperature) / denominator) for p in positives) / len(positives)
        anchors += 1
    return total / anchors


def test_instance_contrast_matches_the_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randn(5, 3, generator=gen)
    ids = [1, 1, 2, 0, 2]  # 0: no instance, a candidate but never an anchor
    got = instance_contrast(tokens[None], torch.tensor([ids]), 0.5)
    assert float(got) == pytest.approx(_by_hand(tokens, ids, 0.5), rel=1e-5)
    assert float(instance_contrast(tokens[None], torch.tensor([[1, 2, 3, 0, 4]]), 0.5)) == 0.0  # no positive pair


def test_instance_contrast_prefers_tokens_grouped_by_instance() -> None:
    ids = torch.tensor([[1, 1, 2, 2]])
    grouped = torch.tensor([[[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]]])
    mixed = grouped[:, [0, 2, 1, 3]]
    assert instance_contrast(grouped, ids, 0.1) < instance_contrast(mixed, ids, 0.1)


def _two_colour_views(n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """n (3, 40, 48) uint8 views, dark red left of a random column and dark blue right of it (both
    below the solarisation threshold), and their masks (1 left, 2 right)."""
    gen = torch.Generator().manual_seed(seed)
    views = torch.zeros(n, 3, 40, 48, dtype=torch.uint8)
    masks = torch.ones(n, 40, 48, dtype=torch.int16)
    for k, col in enumerate(torch.randint(12, 36, (n,), generator=gen).tolist()):
        views[k, 0, :, :col] = 120
        views[k, 2, :, col:] = 120
        masks[k, :, col:] = 2
    return views, masks


def test_global_crop_patch_ids_match_the_pixels_they_come_from() -> None:
    views, masks = _two_colour_views(6)
    cfg = DinoConfig(num_local=2, jitter=ColorJitterConfig(p=0.0, grayscale_p=0.0))
    global_x, local_x, ids = multi_crop(views, cfg, torch.Generator().manual_seed(0), masks)
    assert ids is not None and ids.shape == (12, 64) and local_x.shape == (12, 3, 32, 32)
    centres = global_x[:, :, 4::8, 4::8].flatten(2)  # (12, 3, 64): the pixel at each patch centre
    red_side = centres[:, 0] > centres[:, 2]
    agree = (red_side == (ids == 1)).float().mean()
    assert agree > 0.95, f"patch ids and pixels agree on {agree:.0%} of patches"
    # without masks the crops are drawn identically and no ids come back
    again, _, none = multi_crop(views, cfg, torch.Generator().manual_seed(0))
    assert none is None and torch.equal(again, global_x)


def _held_out_contrast(cfg: DinoConfig, views: torch.Tensor, masks: torch.Tensor) -> float:
    """Instance contrast of the returned (teacher) tower's patch tokens on fresh crops of other views."""
    result = train_dino(views, cfg, seed=0, masks=masks if cfg.instance_weight > 0 else None)
    fresh_views, fresh_masks = _two_colour_views(6, seed=7)
    x, _, ids = multi_crop(fresh_views, cfg, torch.Generator().manual_seed(5), fresh_masks)
    with torch.no_grad():
        tokens = result.teacher.forward_tokens(x)[:, 1:]  # (crops, 64, D) patch tokens
    return float(instance_contrast(tokens, ids, cfg.instance_temp))


def test_dino_with_instance_contrast_learns_to_tell_the_instances_apart() -> None:
    views, masks = _two_colour_views(8)
    cfg = DinoConfig(steps=30, batch_size=4, num_local=2, out_dim=64, hidden_dim=32, bottleneck_dim=16,
                     lr=2e-3, momentum=(0.5, 0.5), instance_weight=1.0)
    with_contrast = _held_out_contrast(cfg, views, masks)
    dino_alone = _held_out_contrast(replace(cfg, instance_weight=0.0), views, masks)
    assert with_contrast < dino_alone - 0.1, f"held-out instance contrast {with_contrast:.3f} vs DINO alone {dino_alone:.3f}"
    with pytest.raises(ValueError, match="instance mask"):
        train_dino(views, cfg, seed=0)
