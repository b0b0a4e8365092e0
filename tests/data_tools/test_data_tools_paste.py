"""Background pasting of tower crops: instance mattes cut with the crops, the composite, the batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data_tools.crop_windows import cut_crops, cut_masks
from data_tools.lit_train import LitConfig, batch_crops, train_lit
from data_tools.tower_augment import paste_backgrounds
from data_tools.tower_data import STRUCTURE_LABELS, CropSet, shell_crops


def _two_pieces() -> np.ndarray:
    """A 40x60 instance mask: id 7 fills columns 0-29, id 9 columns 30-59."""
    mask = np.full((40, 60), 7, np.int32)
    mask[:, 30:] = 9
    return mask


def test_matte_is_one_on_the_instance_and_zero_off_it() -> None:
    windows = np.array([[0, 0, 20], [0, 40, 20], [10, 20, 20]])  # on 7, on 9, half and half
    mattes = cut_masks(_two_pieces(), windows, np.array([7, 7, 9]), out_size=20)
    assert mattes.shape == (3, 20, 20) and mattes.dtype == torch.uint8
    assert bool((mattes[0] == 255).all())
    assert bool((mattes[1] == 0).all())
    assert bool((mattes[2][:, :10] == 0).all()) and bool((mattes[2][:, 10:] == 255).all())  # id 9 from column 30


def test_matte_is_resized_as_the_pixels_are() -> None:
    """An image painted white on the instance, cut by cut_crops, is the matte cut by cut_masks."""
    rng = np.random.default_rng(0)
    mask = rng.integers(1, 4, size=(48, 64)).astype(np.int32)
    mask[10:30, 5:40] = 5  # one large instance among noise
    windows = np.array([[0, 0, 16], [8, 2, 40], [20, 30, 28], [4, 20, 33]])  # up- and down-scaled
    instances = np.array([5, 5, 2, 5])
    mattes = cut_masks(mask, windows, instances, out_size=24)
    for k, inst in enumerate(instances):
        white = torch.from_numpy(np.where(mask == inst, 255, 0).astype(np.uint8))[None].expand(3, -1, -1)
        crop = cut_crops(white.contiguous(), windows[k : k + 1], out_size=24)[0]
        torch.testing.assert_close(mattes[k], crop[0])
        top, left, side = windows[k]
        share = float((mask[top : top + side, left : left + side] == inst).mean())
        assert mattes[k].float().mean().item() / 255 == pytest.approx(share, abs=0.03)


def test_paste_keeps_the_piece_and_swaps_what_is_around_it() -> None:
    crops = torch.full((3, 3, 4, 4), 200, dtype=torch.uint8)
    under = torch.full((3, 3, 4, 4), 10, dtype=torch.uint8)
    mattes = torch.zeros(3, 4, 4, dtype=torch.uint8)
    mattes[:, :, :2] = 255  # the piece: the two left columns
    mattes[:, 0, 3] = 128  # one soft edge pixel
    out = paste_backgrounds(crops, mattes, under, torch.tensor([True, False, True]))
    assert bool((out[1] == 200).all())  # not pasted: unchanged
    for k in (0, 2):
        assert bool((out[k][:, :, :2] == 200).all())
        assert bool((out[k][:, 1:, 2:] == 10).all())
        assert int(out[k][0, 0, 3]) == round(128 / 255 * 200 + (1 - 128 / 255) * 10)


def _crop_set() -> CropSet:
    """Six crops: 0-3 furniture (label 0, matte on the left half), 4-5 wall (label 1, uniform 50)."""
    images = torch.full((6, 3, 8, 8), 200, dtype=torch.uint8)
    images[4:] = 50
    masks = torch.zeros(6, 8, 8, dtype=torch.uint8)
    masks[:, :, :4] = 255
    n = 6
    return CropSet(images, torch.tensor([0, 0, 0, 0, 1, 1]), torch.full((n,), 0.3), torch.arange(n),
                   torch.tensor([0, 1, 2, 3, 4, 4]), torch.full((n,), -1), torch.full((n,), -1), masks)


def test_batches_paste_furniture_over_shell_crops_only() -> None:
    crops = _crop_set()
    shell = shell_crops(crops, ["chair", "wall"])
    assert shell.tolist() == [4, 5] and "wall" in STRUCTURE_LABELS
    gen = torch.Generator().manual_seed(0)
    idx = torch.tensor([0, 1, 2, 3, 4, 5])
    out = batch_crops(crops, idx, shell, LitConfig(paste_fraction=1.0), gen)
    assert bool((out[:4, :, :, :4] == 200).all()) and bool((out[:4, :, :, 4:] == 50).all())
    torch.testing.assert_close(out[4:], crops.images[4:])  # the shell is never pasted over
    off = batch_crops(crops, idx, shell, LitConfig(paste_fraction=0.0), gen)
    torch.testing.assert_close(off, crops.images)
    half = batch_crops(crops, idx.repeat(50), shell, LitConfig(paste_fraction=0.5), torch.Generator().manual_seed(1))
    pasted = (half[:, 0, 0, 7] == 50) & ~torch.isin(idx.repeat(50), shell)
    assert 0.35 < pasted.sum().item() / 200 < 0.65  # about half of the 200 furniture crops


def test_paste_needs_mattes_and_shell_crops() -> None:
    crops = _crop_set()
    texts = torch.nn.functional.normalize(torch.randn(1, 2, 384), dim=-1)
    cfg = LitConfig(steps=1, batch_size=2, paste_fraction=0.5)
    unmatted = CropSet.concat([crops.subset(torch.tensor([0, 4])), CropSet(*[t[:1] for t in (
        crops.images, crops.labels, crops.tile_fractions, crops.rooms, crops.models, crops.colours, crops.materials)])])
    assert unmatted.masks is None  # a set without mattes drops them all
    with pytest.raises(ValueError, match="instance mattes"):
        train_lit(unmatted, texts, cfg, seed=0, shell=torch.tensor([1]))
    with pytest.raises(ValueError, match="room-shell crop"):
        train_lit(crops, texts, cfg, seed=0, shell=torch.zeros(0, dtype=torch.int64))


def test_mattes_survive_the_cache(tmp_path) -> None:
    crops = _crop_set()
    crops.save(tmp_path / "crops.pt")
    back = CropSet.load(tmp_path / "crops.pt")
    torch.testing.assert_close(back.masks, crops.masks)
    torch.testing.assert_close(back.subset(torch.tensor([1, 5])).masks, crops.masks[[1, 5]])
