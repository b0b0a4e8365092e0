"""Reading capture files that may live inside a zip archive, without extracting anything.

A Record3D ``.r3d`` export is a zip. Readers never write, so frames of a zipped capture point at
*virtual* paths: ``<archive>/<member>``, e.g. ``scan.r3d/rgbd/0.jpg``. Every function here accepts
such a path as well as a plain file path, so the rest of lerf3d reads frames through
:func:`read_bytes` / :mod:`lerf3d.capture.io` and never cares which kind it got.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from lerf3d.capture.errors import CaptureError


def split_archive_path(path: Path) -> tuple[Path, str] | None:
    """``(archive, member)`` when ``path`` points inside a zip archive, else None."""
    for parent in Path(path).parents:
        if parent.is_file():
            if zipfile.is_zipfile(parent):
                return parent, Path(path).relative_to(parent).as_posix()
            return None
    return None


def file_exists(path: Path) -> bool:
    """True for an existing plain file or an existing member of a zip archive."""
    path = Path(path)
    if path.is_file():
        return True
    inside = split_archive_path(path)
    if inside is None:
        return False
    archive, member = inside
    with zipfile.ZipFile(archive) as zf:
        return member in set(zf.namelist())


def read_bytes(path: Path) -> bytes:
    """The bytes of a plain file or of a zip member; CaptureError naming the path when missing."""
    path = Path(path)
    if path.is_file():
        return path.read_bytes()
    inside = split_archive_path(path)
    if inside is None:
        raise CaptureError(f"{path}: file not found")
    archive, member = inside
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    except KeyError:
        raise CaptureError(f"{path}: no member {member!r} in archive {archive}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise CaptureError(f"{archive}: unreadable zip archive ({exc})") from exc


def open_image(path: Path) -> Image.Image:
    """A lazily decoded PIL image (only the header is parsed until pixels are asked for)."""
    data = read_bytes(path)
    try:
        return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise CaptureError(f"{path}: not a readable image ({exc})") from exc


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image, read from its header only."""
    with open_image(path) as img:
        return img.size
