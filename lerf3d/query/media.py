"""Writing query images and videos atomically (PNG with PIL; MP4 with imageio-ffmpeg; GIF with PIL)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from jaxtyping import UInt8
from PIL import Image

from lerf3d.atomic import atomic_path

VIDEO_SUFFIXES = (".mp4", ".gif")
MAX_SLUG = 60
"""Longest file-name stem made from a phrase (phrases may be sentences)."""


def slug(text: str) -> str:
    """A file-name-safe stem for a phrase ("coffee cup" -> "coffee_cup"; non-ASCII kept as '_')."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:MAX_SLUG]
    return cleaned or "phrase"


def write_png(path: str | Path, image: UInt8[np.ndarray, "H W 3"]) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
    return path


def write_video(path: str | Path, frames: Sequence[UInt8[np.ndarray, "H W 3"]], fps: float) -> Path:
    """MP4 (H.264 via imageio-ffmpeg) or GIF (PIL) by suffix; frames of odd size are padded by one
    pixel for H.264, whose 4:2:0 chroma needs even sides."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"{path}: video output must end in {' or '.join(VIDEO_SUFFIXES)}")
    if not frames:
        raise ValueError("no frames to write")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                           duration=round(1000 / fps), loop=0)
        else:
            _write_mp4(tmp, [_even(f) for f in frames], fps)
    return path


def _even(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _write_mp4(path: Path, frames: Sequence[np.ndarray], fps: float) -> None:
    try:
        import imageio.v2 as imageio
    except ImportError as err:
        raise ImportError("MP4 output needs imageio and imageio-ffmpeg (pip install 'lerf3d[viewer]'); "
                          "or write a .gif") from err
    # macro_block_size=1: keep the exact size instead of imageio's resize to multiples of 16.
    with imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8,
                            pixelformat="yuv420p", macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
