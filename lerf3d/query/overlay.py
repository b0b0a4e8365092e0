"""Heat-map images of relevancy over a render, as LERF shows them (pure numpy).

Values below 0.5 mean "not this" (LERF sec. 3.4) and are left transparent; the rest are coloured
on the Turbo map from 0.5 (cold) to the map's maximum (hot) and alpha-blended over the RGB render,
so the strongest response of each map is always the hottest colour.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8

from lerf3d.query.relevancy import NEUTRAL_RELEVANCY

TURBO_ANCHORS = np.array(
    [[48, 18, 59], [70, 134, 251], [27, 229, 181], [164, 252, 60], [251, 185, 56], [227, 69, 14],
     [122, 4, 3]],
    dtype=np.float32,
) / 255.0
"""Seven evenly spaced samples of the Turbo colour map (Mikhailov, Google AI blog 2019), low to high,
linearly interpolated between: LERF's viewer colours relevancy with Turbo."""
OVERLAY_ALPHA = 0.65
"""Opacity of the heat map where it is shown: the render stays readable underneath."""
MIN_SPAN = 1e-6
"""Smallest max - threshold range normalised by (a map that barely passes the threshold)."""


def turbo(t: Float[np.ndarray, "*shape"]) -> Float[np.ndarray, "*shape 3"]:
    """Turbo colours in [0, 1] of values in [0, 1] (clipped)."""
    position = np.clip(np.asarray(t, np.float32), 0.0, 1.0) * (len(TURBO_ANCHORS) - 1)
    low = np.minimum(np.floor(position).astype(np.int64), len(TURBO_ANCHORS) - 2)
    frac = (position - low)[..., None]
    return TURBO_ANCHORS[low] * (1 - frac) + TURBO_ANCHORS[low + 1] * frac


def heatmap_overlay(
    rgb: Float[np.ndarray, "H W 3"],
    relevancy: Float[np.ndarray, "H W"],
    threshold: float = NEUTRAL_RELEVANCY,
    alpha: float = OVERLAY_ALPHA,
) -> UInt8[np.ndarray, "H W 3"]:
    """The render with relevancy >= ``threshold`` painted on it (colour from threshold to the map's max)."""
    rgb = np.asarray(rgb, np.float32)
    relevancy = np.asarray(relevancy, np.float32)
    if rgb.shape != (*relevancy.shape, 3):
        raise ValueError(f"rgb {rgb.shape} and relevancy {relevancy.shape} do not match")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    shown = relevancy >= threshold
    top = float(relevancy.max()) if relevancy.size else threshold
    t = (relevancy - threshold) / max(top - threshold, MIN_SPAN)
    weight = np.where(shown, alpha, 0.0)[..., None].astype(np.float32)  # (H, W, 1)
    blended = rgb.clip(0, 1) * (1 - weight) + turbo(t) * weight
    return (blended * 255 + 0.5).astype(np.uint8)


def side_by_side(images: list[UInt8[np.ndarray, "H W 3"]]) -> UInt8[np.ndarray, "H W_total 3"]:
    """Images of equal height next to each other (several phrases in one video frame)."""
    if not images:
        raise ValueError("no images to put side by side")
    heights = {image.shape[0] for image in images}
    if len(heights) != 1:
        raise ValueError(f"images must share their height, got {sorted(heights)}")
    return np.concatenate(images, axis=1)
