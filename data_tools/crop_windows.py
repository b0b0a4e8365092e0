"""Square windows of a rendered view: which instance labels one, where the crop pyramid puts them,
and their pixels at the image-text tower's input size (pure functions of a mask or an image)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lerf3d.features.tiling import PyramidConfig, pyramid_layout

MIN_DOMINANT_SHARE = 0.4
"""A crop is labelled by its most frequent instance only if that covers this share of its pixels."""
CROP_SIZE = 64
"""Side of cached crops: the image-text tower's input size (``lerf3d.encoders.tiny.TINY_INPUT_SIZE``)."""


def dominant_instance(mask_window: np.ndarray, min_share: float = MIN_DOMINANT_SHARE) -> int:
    """The instance id covering the largest share of a window, or 0 if under ``min_share``."""
    counts = np.bincount(mask_window.ravel())
    counts[0] = 0  # id 0 is "nothing": never a label
    best = int(counts.argmax())
    return best if counts[best] >= min_share * mask_window.size else 0


def dominant_furniture(
    mask_window: np.ndarray,
    shell_ids: np.ndarray,
    min_window_share: float,
    min_share: float = MIN_DOMINANT_SHARE,
) -> int:
    """The furniture instance covering ``min_share`` of the window's non-shell pixels (``shell_ids``:
    floor, walls, ceiling) and ``min_window_share`` of the whole window, even where the shell fills
    the rest (see ``CropSamplingConfig.thin_object_share``); else :func:`dominant_instance`."""
    counts = np.bincount(mask_window.ravel())
    counts[0] = 0  # id 0 is "nothing": never a label
    counts[shell_ids[shell_ids < len(counts)]] = 0
    best = int(counts.argmax())
    share_of_furniture, share_of_window = counts[best] / max(counts.sum(), 1), counts[best] / mask_window.size
    if counts[best] > 0 and share_of_furniture >= min_share and share_of_window >= min_window_share:
        return best
    return dominant_instance(mask_window, min_share)


def cut_crops(
    image: torch.Tensor, windows: np.ndarray, out_size: int = CROP_SIZE
) -> torch.Tensor:
    """(n, 3, S, S) uint8 crops of a (3, H, W) uint8 image at ``windows`` (n, 3) = (top, left, side).

    Bilinear with antialiasing, as :func:`lerf3d.features.pyramid.gather_crops` resizes pyramid
    crops, so the tower trains on the pixels it will see at inference.
    """
    return _resized_tiles(image, windows, out_size, lambda tiles, rows: tiles.float())


def cut_masks(
    mask: np.ndarray, windows: np.ndarray, instances: np.ndarray, out_size: int = CROP_SIZE
) -> torch.Tensor:
    """(n, S, S) uint8 coverage of each window by its instance ``instances[k]`` (255: the crop pixel
    lies wholly on it, 0: wholly off it), resized exactly as :func:`cut_crops` resizes the pixels,
    so it is the alpha matte of the instance in the crop."""
    ids = torch.as_tensor(instances, dtype=torch.int64)
    source = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.int64))[None]  # (1, H, W)

    def matte(tiles: torch.Tensor, rows: np.ndarray) -> torch.Tensor:  # tiles: (n, 1, t, t) ids
        return (tiles == ids[torch.as_tensor(rows)][:, None, None, None]).float() * 255.0

    return _resized_tiles(source, windows, out_size, matte)[:, 0]


def _resized_tiles(image: torch.Tensor, windows: np.ndarray, out_size: int, to_float) -> torch.Tensor:
    """(n, C, S, S) uint8: the (C, H, W) ``image`` cut at ``windows``, made float by
    ``to_float(tiles, rows)`` (rows: the windows' indices) and resized bilinearly with antialiasing."""
    out = torch.empty(len(windows), image.shape[0], out_size, out_size, dtype=torch.uint8)
    for side in np.unique(windows[:, 2]):
        rows = np.flatnonzero(windows[:, 2] == side)
        offsets = torch.arange(int(side))
        top = torch.as_tensor(windows[rows, 0])[:, None] + offsets  # (n, t)
        left = torch.as_tensor(windows[rows, 1])[:, None] + offsets  # (n, t)
        tiles = to_float(image[:, top[:, :, None], left[:, None, :]].permute(1, 0, 2, 3), rows)  # (n, C, t, t)
        if side != out_size:
            tiles = F.interpolate(tiles, size=(out_size, out_size), mode="bilinear", align_corners=False, antialias=True)
        out[torch.as_tensor(rows)] = tiles.round().clamp(0, 255).to(torch.uint8)
    return out


def pyramid_windows(pyramid: PyramidConfig, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Every window of the crop pyramid as (n, 3) (top, left, side), and its (n,) level index."""
    windows, levels = [], []
    for level, layout in enumerate(pyramid_layout(pyramid, height, width)):
        top, left = np.meshgrid(layout.origins_y, layout.origins_x, indexing="ij")
        n = top.size
        windows.append(np.stack([top.ravel(), left.ravel(), np.full(n, layout.tile_pixels)], axis=1))
        levels.append(np.full(n, level))
    return np.concatenate(windows), np.concatenate(levels)


def window_instances(
    mask: np.ndarray, windows: np.ndarray, shell_ids: np.ndarray | None = None, thin_object_share: float = 0.0
) -> np.ndarray:
    """(n,) dominant instance id of each window (0: none dominant); with ``shell_ids`` and
    ``thin_object_share`` > 0, by :func:`dominant_furniture`."""
    if shell_ids is None or thin_object_share <= 0:
        return np.array([dominant_instance(mask[t : t + s, left : left + s]) for t, left, s in windows], np.int64)
    return np.array(
        [
            dominant_furniture(mask[t : t + s, left : left + s], shell_ids, thin_object_share)
            for t, left, s in windows
        ],
        np.int64,
    )
