"""Pixel loaders for frames of any supported format.

Depth resolution rule: depth is returned at **its own resolution**, which may differ from the RGB
image's (ScanNet 640x480 depth under 1296x968 colour, Record3D 256x192 under 1920x1440). Every
reader's depth is registered to its RGB image, so the depth camera is the RGB camera seen at another
resolution: ``frame.intrinsics.scaled(depth_w, depth_h)`` gives its intrinsics, and
:func:`resize_depth_nearest` brings a depth map onto the RGB pixel grid. The ratio need not be
integral (ScanNet's is 2.025), but the aspect ratios must agree within
:data:`lerf3d.capture.validate.ASPECT_TOLERANCE`; validation rejects captures where they do not.
"""

from __future__ import annotations

import io as _io
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from lerf3d.capture.errors import CaptureError
from lerf3d.capture.files import PIL_ERRORS, open_image, read_bytes
from lerf3d.capture.record3d import decode_record3d_depth, record3d_depth_size
from lerf3d.types import Frame

IMAGE_DEPTH_SUFFIXES = (".png", ".tif", ".tiff")
"""Depth stored as integer images (16-bit PNG in every supported format), times ``depth_scale``."""

DEPTH_IMAGE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")
"""PIL modes of single-channel images deep enough to hold depth (8-bit "L" is refused: 255 levels
cannot encode a room)."""


def load_rgb(frame: Frame) -> np.ndarray:
    """The frame's colour image as (H, W, 3) uint8; CaptureError naming the file when unreadable."""
    img = open_image(frame.rgb_path)
    try:
        with img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except PIL_ERRORS as exc:  # truncated or corrupt pixel data
        raise CaptureError(f"{frame.rgb_path}: corrupt image ({type(exc).__name__}: {exc})") from None


class FrameImages(Mapping[str, np.ndarray]):
    """A capture's RGB images by frame name (:func:`load_rgb`), each read when first asked for and
    then kept: crops are cut from a few frames per object, so a long capture is never read whole."""

    def __init__(self, frames: Iterable[Frame]) -> None:
        self._frames = {frame.name: frame for frame in frames}
        self._read: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._read:
            self._read[name] = load_rgb(self._frames[name])
        return self._read[name]

    def __contains__(self, name: object) -> bool:
        return name in self._frames  # without reading it (Mapping's default would)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)


def load_depth(frame: Frame) -> np.ndarray:
    """The frame's depth in metres, (Hd, Wd) float32 at the depth file's own resolution.

    Missing measurements (0, NaN, inf, negative values) all come back as 0, the one "no
    measurement" value of lerf3d.
    """
    if frame.depth_path is None:
        raise CaptureError(f"frame {frame.name}: has no depth image")
    path = frame.depth_path
    suffix = path.suffix.lower()
    if suffix in IMAGE_DEPTH_SUFFIXES:
        raw = _decode_depth_image(path)
    elif suffix == ".npy":
        raw = _decode_npy(path)
    elif suffix == ".depth":
        width, height = record3d_depth_size(path)
        raw = decode_record3d_depth(read_bytes(path), width, height, path)
    else:
        raise CaptureError(f"{path}: unsupported depth file type {suffix!r}")
    depth = raw.astype(np.float32) * np.float32(frame.depth_scale)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


def resize_depth_nearest(depth: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample a (Hd, Wd) depth map to (height, width) by nearest neighbour.

    Nearest, not bilinear: averaging across an object boundary invents depths that lie on neither
    surface, and averaging with 0 ("no measurement") invents depths that were never measured.
    """
    src_h, src_w = depth.shape
    rows = np.minimum(((np.arange(height) + 0.5) * src_h / height).astype(np.int64), src_h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * src_w / width).astype(np.int64), src_w - 1)
    return depth[rows[:, None], cols[None, :]]


def _decode_depth_image(path) -> np.ndarray:
    img = open_image(path)
    with img:
        if img.mode not in DEPTH_IMAGE_MODES:
            raise CaptureError(f"{path}: depth image has mode {img.mode}, expected 16-bit grey")
        try:
            return np.asarray(img)
        except PIL_ERRORS as exc:  # truncated or corrupt pixel data
            raise CaptureError(f"{path}: corrupt depth image ({type(exc).__name__}: {exc})") from None


def _decode_npy(path) -> np.ndarray:
    try:
        array = np.load(_io.BytesIO(read_bytes(path)), allow_pickle=False)
    except ValueError as exc:
        raise CaptureError(f"{path}: unreadable .npy depth ({exc})") from exc
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]  # (H, W, 1) -> (H, W): nerfstudio-style depth arrays keep a channel
    if array.ndim != 2:
        raise CaptureError(f"{path}: depth array has shape {array.shape}, expected (H, W)")
    return array

