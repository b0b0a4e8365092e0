"""On-disk cache of per-image features: one ``.npz`` file per (image, feature kind).

A file's name is the hash of its :class:`CacheKey`: the image's content hash, the encoder's name,
a hash of every setting that changes the features, and :data:`FORMAT_VERSION`. Changing any of
them therefore looks up another file (a miss), never a stale one. Pyramid and DINO maps are kept
in separate files so that changing one encoder does not recompute the other's features.

Safety: files are written under a temporary name and moved into place with ``os.replace`` (atomic
on POSIX and Windows), so a crash never leaves a half-written file under a real name. A file that
is still unreadable (truncated, bit rot, written by another program) fails to load or fails its
stored key/checksum; :meth:`FeatureCache.load` then warns with :class:`FeatureCacheWarning` and
reports a miss, and the caller recomputes and overwrites it. It is never silently reused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from lerf3d.atomic import atomic_path

FORMAT_VERSION = 1
"""Bump when the arrays stored per file change meaning: old files then miss instead of misreading."""
META_NAME = "__meta__"
"""Name of the array holding the JSON key and checksum inside each file."""

T = TypeVar("T")


class FeatureCacheWarning(UserWarning):
    """A cache file existed but could not be trusted; it is being recomputed."""


@dataclass(frozen=True)
class CacheKey:
    """Everything the content of one cache file depends on."""

    kind: str
    """What the file holds: ``pyramid`` or ``dino``."""
    image_digest: str
    """:func:`image_digest` of the decoded pixels."""
    encoder_name: str
    """The encoder's spec string (``ImageTextEncoder.name`` / ``DenseFeatureEncoder.name``)."""
    settings_digest: str
    """:func:`settings_digest` of every other setting that changes the features."""
    format_version: int = FORMAT_VERSION
    """Layout version of the stored arrays."""

    def as_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def filename(self) -> str:
        """``<kind>-<sha256 of the key>.npz``: the kind stays readable for people browsing the folder."""
        return f"{self.kind}-{hashlib.sha256(self.as_json().encode()).hexdigest()[:40]}.npz"


def image_digest(rgb: np.ndarray) -> str:
    """sha256 of decoded pixels, shape and dtype included.

    Decoded pixels rather than file bytes: the key then names exactly what was encoded, and a
    re-saved file with the same pixels (other PNG compression, stripped metadata) still hits.
    """
    digest = hashlib.sha256(f"{rgb.shape}|{rgb.dtype.str}|".encode())
    digest.update(np.ascontiguousarray(rgb).tobytes())
    return digest.hexdigest()


def settings_digest(settings: Any) -> str:
    """sha256 of a JSON rendering of ``settings`` (dataclasses, dicts, lists, numbers, strings)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {"__class__": type(value).__name__, **plain(dataclasses.asdict(value))}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        raise TypeError(f"cannot hash setting of type {type(value).__name__}: {value!r}")

    return hashlib.sha256(json.dumps(plain(settings), sort_keys=True).encode()).hexdigest()


def arrays_checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``arrays`` (order-independent)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


# What reading a damaged .npz raises: zipfile for a broken archive or CRC, ValueError/EOFError for
# a bad .npy header or short data, OSError for I/O, KeyError for a missing member.
_READ_ERRORS = (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError)


class FeatureCache:
    """A folder of feature files keyed by :class:`CacheKey`."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: CacheKey) -> Path:
        return self.root / key.filename()

    def load(self, key: CacheKey, decode: Callable[[dict[str, np.ndarray]], T]) -> T | None:
        """``decode`` of the arrays stored under ``key``; None when absent, or (with a warning) when
        the file is unreadable, fails its key/checksum check, or does not decode."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            meta = json.loads(str(arrays.pop(META_NAME)))
        except _READ_ERRORS as exc:
            return self._reject(path, f"unreadable ({type(exc).__name__}: {exc})")
        if not isinstance(meta, dict):
            return self._reject(path, "has no key record")
        if meta.get("key") != key.as_json():
            return self._reject(path, "stored key does not match the requested key")
        if meta.get("checksum") != arrays_checksum(arrays):
            return self._reject(path, "checksum mismatch")
        try:
            return decode(arrays)
        except (KeyError, ValueError, TypeError) as exc:  # intact, but not the layout the decoder expects
            return self._reject(path, f"does not decode ({type(exc).__name__}: {exc})")

    def save(self, key: CacheKey, arrays: dict[str, np.ndarray]) -> Path:
        """Write ``arrays`` under ``key`` atomically (temporary file, fsync, ``os.replace``)."""
        if META_NAME in arrays:
            raise ValueError(f"array name {META_NAME!r} is reserved by the cache")
        path = self.path(key)
        meta = json.dumps({"key": key.as_json(), "checksum": arrays_checksum(arrays)})
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # unique temporary name beside path
            np.savez(handle, **arrays, **{META_NAME: np.array(meta)})
            handle.flush()
            os.fsync(handle.fileno())  # the bytes reach the disk before the rename makes them visible
        return path

    def _reject(self, path: Path, reason: str) -> None:
        message = f"feature cache file {path} {reason}; recomputing it"
        warnings.warn(message, FeatureCacheWarning, stacklevel=3)  # 3: point at load()'s caller
        return None
