"""Writing query images and videos atomically (PNG with PIL; MP4 with imageio-ffmpeg; GIF with PIL)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from jaxtyping import UInt8
from PIL import Image

from lerf3d.atomic import atomic_path
from lerf3d.preflight import check_output_path

VIDEO_SUFFIXES = (".mp4", ".gif")
MAX_SLUG_BYTES = 120
"""Longest file-name stem made from a phrase, in UTF-8 bytes (phrases may be sentences; file names
may have 255 bytes, which the view name, a digest and the suffix share)."""
PHRASE_DIGEST = 8
"""Hex digits of the phrase digest that tells apart phrases with the same slug (32 bits)."""
RESERVED_STEMS = ("rgb",)
"""Stems the query command writes besides the phrases' (VIEW_rgb.png: the plain render)."""


def slug(text: str) -> str:
    """A file-name-safe stem for a phrase ("coffee cup" -> "coffee_cup", "椅子" -> "椅子"): letters and
    digits of any script kept, every other run of characters one '_'; "phrase" when nothing is left."""
    cleaned = re.sub(r"[\W_]+", "_", text).strip("_").lower()
    cleaned = cleaned.encode("utf-8")[:MAX_SLUG_BYTES].decode("utf-8", "ignore").rstrip("_")
    return cleaned or "phrase"


def phrase_stems(phrases: Sequence[str]) -> list[str]:
    """File stems of ``phrases``, one per distinct phrase: the slug when it spells the phrase ("coffee
    cup" -> "coffee_cup"), else the slug and a digest of the exact phrase ("CHAIR!" ->
    "chair_" + 8 hex digits), so phrases that slug alike never overwrite each other's outputs, in
    one call or across calls into the same folder; a reserved stem ("rgb") gets the digest too."""
    stems = []
    for phrase in phrases:
        stem = slug(phrase)
        if phrase != stem.replace("_", " ") or stem in RESERVED_STEMS:
            stem = f"{stem}_{hashlib.sha256(phrase.encode('utf-8')).hexdigest()[:PHRASE_DIGEST]}"
        stems.append(stem)
    return stems


def write_png(path: str | Path, image: UInt8[np.ndarray, "H W 3"]) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format="PNG")
    return path


def check_video_output(path: str | Path, fps: float) -> Path:
    """``path`` when a video can be written there at ``fps`` (checked before any frame is rendered)."""
    path = check_output_path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"--out {path}: video output must end in {' or '.join(VIDEO_SUFFIXES)}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"--fps must be a finite number > 0, got {fps}")
    return path


def write_video(path: str | Path, frames: Sequence[UInt8[np.ndarray, "H W 3"]], fps: float) -> Path:
    """MP4 (H.264 via imageio-ffmpeg) or GIF (PIL) by suffix; frames of odd size are padded by one
    pixel for H.264, whose 4:2:0 chroma needs even sides."""
    path = check_video_output(path, fps)
    suffix = path.suffix.lower()
    if not frames:
        raise ValueError("no frames to write")
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
