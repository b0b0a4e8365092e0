"""Reading capture files that may live inside a zip archive, without extracting anything.

A Record3D ``.r3d`` export is a zip. Readers never write, so frames of a zipped capture point at
*virtual* paths: ``<archive>/<member>``, e.g. ``scan.r3d/rgbd/0.jpg``. Every function here accepts
such a path as well as a plain file path, so the rest of lerf3d reads frames through
:func:`read_bytes` / :mod:`lerf3d.capture.io` and never cares which kind it got.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from PIL import Image

from lerf3d.capture.errors import CaptureError


def inside_folder(folder: Path, relative: object, where: str) -> Path:
    """``folder / relative`` for a relative path that stays inside ``folder``; CaptureError otherwise.

    Checked on the text, before anything is opened: a capture file must not make lerf3d read
    ``/etc/passwd`` or ``../elsewhere.png``. Symbolic links inside the folder are allowed (captures
    often link their images), so the path is normalised, not resolved.
    """
    if not isinstance(relative, str) or not relative.strip() or "\0" in relative:
        raise CaptureError(f"{where}: expected a relative file path, got {relative!r}")
    if os.path.isabs(relative) or relative.startswith(("/", "\\")) or Path(relative).drive:
        raise CaptureError(f"{where}: {relative!r} is an absolute path; paths must stay inside {folder}")
    normal = os.path.normpath(relative)
    if normal == ".." or normal.startswith(".." + os.sep):
        raise CaptureError(f"{where}: {relative!r} leads outside the capture folder {folder}")
    return Path(folder) / relative


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


PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
"""What PIL raises on bad image bytes: OSError (UnidentifiedImageError, truncation), but some
plugins raise ValueError ("Reached EOF while reading header" from a file starting "P6") and a header
claiming billions of pixels raises DecompressionBombError."""


def open_image(path: Path) -> Image.Image:
    """A lazily decoded PIL image (only the header is parsed until pixels are asked for)."""
    data = read_bytes(path)
    try:
        return Image.open(io.BytesIO(data))
    except PIL_ERRORS as exc:
        raise CaptureError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image, read from its header only."""
    with open_image(path) as img:
        return img.size
