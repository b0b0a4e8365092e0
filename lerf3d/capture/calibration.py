"""Camera intrinsics given by the user (``--intrinsics``) and the record of where a capture's came from.

``--intrinsics`` takes ``fx,fy,cx,cy`` in pixels (the size is then the colour images' own) or a JSON
file ``{"fx", "fy", "cx", "cy"}`` with optional ``"w"``/``"h"`` (``"width"``/``"height"``). Every reader
notes in ``Capture.metadata["intrinsics"]`` which camera it used and where it came from, so a user
can see when a default was taken.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from lerf3d.capture.errors import CaptureError
from lerf3d.capture.files import image_size
from lerf3d.types import Intrinsics

INTRINSICS_KEY = "intrinsics"
"""``Capture.metadata`` key describing the camera used and its source."""
OVERRIDE_KEY = "intrinsics_override"
"""``Capture.metadata`` key holding the override's fields (a plain dict) when one was given: a run
records it, so whatever opens the run's capture later reads it with the same camera."""


@dataclass(frozen=True)
class IntrinsicsOverride:
    """A pinhole camera that replaces (or supplies) a capture's intrinsics."""

    fx: float
    """Focal length along x (pixels)."""
    fy: float
    """Focal length along y (pixels)."""
    cx: float
    """Principal point x (pixels)."""
    cy: float
    """Principal point y (pixels)."""
    source: str
    """Where the values came from, for messages (e.g. ``--intrinsics 500,500,320,240``)."""
    width: int | None = None
    """Image width the values belong to; None: the colour images' own width."""
    height: int | None = None
    """Image height; None together with ``width``."""

    def resolve(self, rgb_path: Path) -> Intrinsics:
        """The camera, its size read from the colour image's header when not given."""
        if self.width is not None and self.height is not None:
            width, height = self.width, self.height
        else:
            width, height = image_size(rgb_path)
        return Intrinsics(self.fx, self.fy, self.cx, self.cy, width, height)

    @classmethod
    def of(cls, camera: Intrinsics, source: str = "the intrinsics argument") -> IntrinsicsOverride:
        return cls(camera.fx, camera.fy, camera.cx, camera.cy, source, camera.width, camera.height)


def as_override(camera: Intrinsics | IntrinsicsOverride | None) -> IntrinsicsOverride | None:
    """Readers take either a full camera (Python callers) or an override (``--intrinsics``)."""
    return IntrinsicsOverride.of(camera) if isinstance(camera, Intrinsics) else camera


def parse_intrinsics(value: str) -> IntrinsicsOverride:
    """``fx,fy,cx,cy`` or the path of a JSON file holding them; CaptureError naming what is wrong."""
    if Path(value).suffix.lower() == ".json" or Path(value).is_file():
        return _from_json(Path(value))
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 4:
        raise CaptureError(f"--intrinsics {value!r}: expected fx,fy,cx,cy (4 numbers) or a JSON file")
    where = f"--intrinsics {value!r}"
    numbers = [field_number(part, name, where) for part, name in zip(parts, ("fx", "fy", "cx", "cy"))]
    return IntrinsicsOverride(*numbers, source=f"--intrinsics {value}")


def describe_intrinsics(camera: Intrinsics, source: str) -> str:
    """One line for ``Capture.metadata["intrinsics"]``."""
    return (
        f"fx={camera.fx:g} fy={camera.fy:g} cx={camera.cx:g} cy={camera.cy:g} "
        f"({camera.width}x{camera.height}) from {source}"
    )


def _from_json(path: Path) -> IntrinsicsOverride:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaptureError(f"{path}: unreadable intrinsics file ({exc})") from exc
    if not isinstance(data, dict):
        raise CaptureError(f"{path}: expected a JSON object with fx, fy, cx, cy")
    values = [field_number(data.get(key), key, str(path)) for key in ("fx", "fy", "cx", "cy")]
    width, height = data.get("w", data.get("width")), data.get("h", data.get("height"))
    if (width is None) != (height is None):
        raise CaptureError(f"{path}: give both image width and height, or neither")
    if width is not None:
        width, height = (field_pixels(v, k, str(path)) for v, k in ((width, "w"), (height, "h")))
    return IntrinsicsOverride(*values, source=str(path), width=width, height=height)


def field_number(value: object, name: str, where: str) -> float:
    """A JSON or text value as a finite float; CaptureError naming the field and the file otherwise."""
    if isinstance(value, bool) or value is None:
        raise CaptureError(f"{where}: {name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CaptureError(f"{where}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise CaptureError(f"{where}: {name} must be finite, got {value!r}")
    return number


def field_pixels(value: object, name: str, where: str) -> int:
    """A positive whole number of pixels; CaptureError naming the field and the file otherwise."""
    number = field_number(value, name, where)
    if number != int(number) or number <= 0:
        raise CaptureError(f"{where}: {name} must be a positive whole number of pixels, got {value!r}")
    return int(number)
