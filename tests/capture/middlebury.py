"""A real photograph as a capture: the Middlebury 2014 "motorcycle" stereo pair that scikit-image
ships (``skimage.data.stereo_motorcycle``, nothing downloaded) turned into a 2-view metric RGB-D
capture in nerfstudio's format, written by :func:`spec_formats.write_nerfstudio`.

Middlebury 2014's calibration (the scene's ``calib.txt``, full size 2964x2000): ``cam0`` and
``cam1`` share f = 3979.911 px and cy; ``doffs = cx1 - cx0`` = 124.343 px; baseline 193.001 mm.
Rectified pinholes, so a left pixel with disparity ``d`` (``disp0``, the left image's) sits at
``x - d`` in the right image and at depth ``Z = baseline * f / (d + doffs)``. scikit-image returns
the images at a quarter of that size, so f, cx, cy and doffs scale by ``width / 2964``.

The right view's depth: scikit-image ships only the left disparity, so it is forward-warped into the
right image (``x_r = x - d``, same Z: the cameras differ by a translation along x) with a z-buffer;
pixels the left camera does not see (occluded, or off its image) get no depth. Both views are then
box-downscaled by ``factor`` (colour: block mean; depth: block median where at least 3/4 of the
block has a value, else none), with the pinhole scaled to match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spec_formats import View, write_nerfstudio

FULL_WIDTH = 2964
"""Width of the full-size Middlebury 2014 images the calibration is given for."""
FULL_FOCAL_PX = 3979.911
FULL_CX0, FULL_CY = 1244.772, 1019.507
FULL_DOFFS_PX = 124.343
BASELINE_M = 0.193001
MIN_VALID_FRACTION = 0.75
"""A downscaled depth pixel needs ground truth in this share of its block (else it has none)."""

CAMERA_HEIGHT_M = 1.0
"""Where the left camera stands in the world (any value: the scene has no floor of its own)."""
LEFT_POSE = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, CAMERA_HEIGHT_M], [0, 0, 0, 1.0]])
"""OpenCV camera-to-world of the left camera in a Z-up world: looking along +y, image x along +x,
image y down (-z)."""


@dataclass(frozen=True)
class StereoPair:
    """The scene as scikit-image returns it, with its calibration at that size."""

    left: np.ndarray
    """(H, W, 3) uint8."""
    right: np.ndarray
    disparity: np.ndarray
    """(H, W) float32 left-image disparity in pixels; NaN or inf where there is no ground truth."""
    focal: float
    cx0: float
    cy: float
    doffs: float

    def left_k(self) -> np.ndarray:
        return np.array([[self.focal, 0.0, self.cx0], [0.0, self.focal, self.cy], [0.0, 0.0, 1.0]])

    def right_k(self) -> np.ndarray:
        return self.left_k() + np.array([[0.0, 0.0, self.doffs], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])

    def left_depth(self) -> np.ndarray:
        """(H, W) metres, 0 where there is no ground truth."""
        valid = np.isfinite(self.disparity) & (self.disparity + self.doffs > 0)
        depth = BASELINE_M * self.focal / np.where(valid, self.disparity + self.doffs, 1.0)
        return np.where(valid, depth, 0.0).astype(np.float32)

    def right_depth(self) -> np.ndarray:
        """The left depth forward-warped into the right image; 0 where the left camera sees nothing."""
        height, width = self.disparity.shape
        depth = self.left_depth()
        ys, xs = np.nonzero(depth > 0)
        target = np.rint(xs - self.disparity[ys, xs]).astype(int)
        inside = (target >= 0) & (target < width)
        ys, target, z = ys[inside], target[inside], depth[ys[inside], xs[inside]]
        out = np.full((height, width), np.inf, np.float32)
        np.minimum.at(out, (ys, target), z)  # z-buffer: the nearest surface wins
        return np.where(np.isfinite(out), out, 0.0).astype(np.float32)


def load_stereo_pair() -> StereoPair:
    from skimage.data import stereo_motorcycle

    left, right, disparity = stereo_motorcycle()
    scale = left.shape[1] / FULL_WIDTH
    return StereoPair(left, right, disparity.astype(np.float32), FULL_FOCAL_PX * scale, FULL_CX0 * scale,
                      FULL_CY * scale, FULL_DOFFS_PX * scale)


def _blocks(array: np.ndarray, factor: int) -> np.ndarray:
    """(H/f, W/f, f*f, ...) blocks of ``array`` cropped to a multiple of ``factor``."""
    height, width = (array.shape[0] // factor) * factor, (array.shape[1] // factor) * factor
    cropped = array[:height, :width]
    blocks = cropped.reshape(height // factor, factor, width // factor, factor, *array.shape[2:])
    return np.moveaxis(blocks, 2, 1).reshape(height // factor, width // factor, factor * factor, *array.shape[2:])


def downscale_view(rgb: np.ndarray, depth: np.ndarray, k: np.ndarray, factor: int) -> tuple[np.ndarray, ...]:
    """Box-downscale colour and depth by an integer factor; the pinhole follows (pixel centres)."""
    small_rgb = np.rint(_blocks(rgb.astype(np.float32), factor).mean(axis=2)).astype(np.uint8)
    blocks = np.where(_blocks(depth, factor) > 0, _blocks(depth, factor), np.nan)
    enough = np.mean(np.isfinite(blocks), axis=2) >= MIN_VALID_FRACTION
    with np.errstate(all="ignore"):
        median = np.nanmedian(np.where(enough[..., None], blocks, 1.0), axis=2)
    small_depth = np.where(enough, median, 0.0).astype(np.float32)
    # pixel i of the small image covers big pixels [f i, f i + f): its centre is f i + (f - 1) / 2
    small_k = k.copy()
    small_k[:2, :2] /= factor
    small_k[:2, 2] = (k[:2, 2] - (factor - 1) / 2) / factor
    return small_rgb, small_depth, small_k


def write_middlebury_capture(root: Path, pair: StereoPair, factor: int = 4) -> Path:
    """The pair as a 2-view nerfstudio capture in ``root`` (left first), downscaled by ``factor``."""
    right_pose = LEFT_POSE.copy()
    right_pose[:3, 3] += LEFT_POSE[:3, 0] * BASELINE_M  # the right camera sits a baseline along its +x
    views = []
    for rgb, depth, k, pose in ((pair.left, pair.left_depth(), pair.left_k(), LEFT_POSE),
                                (pair.right, pair.right_depth(), pair.right_k(), right_pose)):
        small_rgb, small_depth, small_k = downscale_view(rgb, depth, k, factor)
        views.append(View(small_rgb, small_depth, small_k, pose, small_depth[::2, ::2]))
    return write_nerfstudio(views, root)


def depth_errors(points_world: np.ndarray, pair: StereoPair) -> np.ndarray:
    """|Z - Z_gt| / Z_gt of world points seen by the left camera, Z_gt from the full-size ground-truth
    disparity at the pixel each point projects to (points off the image or without ground truth
    are dropped)."""
    camera = (points_world - LEFT_POSE[:3, 3]) @ LEFT_POSE[:3, :3]  # world -> OpenCV camera
    z = camera[:, 2]
    front = z > 0
    u = np.rint(pair.focal * camera[front, 0] / z[front] + pair.cx0).astype(int)
    v = np.rint(pair.focal * camera[front, 1] / z[front] + pair.cy).astype(int)
    gt_depth = pair.left_depth()
    height, width = gt_depth.shape
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    z_gt = gt_depth[v[inside], u[inside]]
    has_gt = z_gt > 0
    return np.abs(z[front][inside][has_gt] - z_gt[has_gt]) / z_gt[has_gt]
