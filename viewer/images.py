"""Arrays to what a browser reads: PNG/JPEG data URLs and base64 little-endian typed arrays."""

from __future__ import annotations

import base64
import io

import numpy as np
from jaxtyping import Float, UInt8
from PIL import Image

JPEG_QUALITY = 85
"""Previews (moving camera) go as JPEG: a few kB, decoded at once; stills go as lossless PNG."""


def to_uint8(rgb: Float[np.ndarray, "H W 3"]) -> UInt8[np.ndarray, "H W 3"]:
    """Colours in [0, 1] to bytes (rounded, as lerf3d.query.overlay does)."""
    return (np.clip(np.asarray(rgb, np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def image_data_url(image: UInt8[np.ndarray, "H W 3"], fmt: str = "png", quality: int = JPEG_QUALITY) -> str:
    """``data:image/png;base64,...`` (or jpeg) of an RGB image."""
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"format must be png or jpeg, got {fmt!r}")
    buffer = io.BytesIO()
    options = {"quality": quality} if fmt == "jpeg" else {"compress_level": 1}
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format=fmt.upper(), **options)
    return f"data:image/{fmt};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def float32_b64(values: np.ndarray) -> str:
    """Base64 of little-endian float32 values (a JavaScript ``Float32Array``), row-major."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def uint8_b64(values: np.ndarray) -> str:
    """Base64 of bytes (a JavaScript ``Uint8Array``), row-major."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.uint8).tobytes()).decode("ascii")
