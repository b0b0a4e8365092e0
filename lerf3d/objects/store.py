"""Saving a scene's objects in its run folder (``RUN/objects/``), and telling a usable copy from a
corrupt or stale one.

One file holds everything (``objects.npz``: the arrays plus a JSON header), written to a temporary
name and renamed, so a crash leaves the old file or the new one, never half of each. The header
carries the format version and a key of what the objects were built from (checkpoint, fused
points, settings): a copy whose key differs is stale and is rebuilt, not used.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from lerf3d.atomic import atomic_path, write_json_atomic
from lerf3d.objects.scene_objects import SceneObjects

OBJECTS_FORMAT = "lerf3d-objects"
"""Format tag in the header."""
OBJECTS_VERSION = 2
"""Bumped whenever the arrays or their meaning change; other versions are rebuilt."""
OBJECTS_FILE = "objects.npz"
"""The objects of a run: ``RUN/objects/objects.npz``."""
SUMMARY_FILE = "objects.json"
"""A human-readable list beside it (ids, boxes, views): informational, never read back."""
_ARRAYS = ("xyz", "rgb", "point_object", "box_min", "box_max", "centroid", "colour", "embedding", "scale",
           "confidence")


class ObjectsFileError(ValueError):
    """An ``objects.npz`` that cannot be used: unreadable, another format or version, or stale."""


def build_key(checkpoint: Path, points_xyz: np.ndarray, settings: dict) -> str:
    """Digest of what a set of objects depends on: the checkpoint's bytes, the fused points and the
    settings (a changed one means the saved objects are stale)."""
    digest = hashlib.sha256()
    with open(checkpoint, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(np.ascontiguousarray(points_xyz, dtype=np.float32).tobytes())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def save_objects(objects: SceneObjects, folder: str | Path, key: str) -> Path:
    """Write ``objects`` to ``folder/objects.npz`` (atomically) and a summary JSON; returns the npz."""
    folder = Path(folder)
    header = {"format": OBJECTS_FORMAT, "version": OBJECTS_VERSION, "key": key, "encoder": objects.encoder,
              "views": [list(v) for v in objects.views], "count": len(objects)}
    arrays = {name: getattr(objects, name).numpy() for name in _ARRAYS}
    if objects.dino is not None:
        arrays["dino"] = objects.dino.numpy()
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    path = folder / OBJECTS_FILE
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a handle: savez would add ".npz"
        np.savez(handle, **arrays)
    write_json_atomic(folder / SUMMARY_FILE, summary(objects))
    return path


def summary(objects: SceneObjects) -> dict:
    """Ids, boxes, centroids, scales, confidences and views of every object (JSON-ready)."""
    return {
        "encoder": objects.encoder,
        "objects": [
            {
                "id": k,
                "box_min": [round(float(v), 4) for v in objects.box_min[k]],
                "box_max": [round(float(v), 4) for v in objects.box_max[k]],
                "centroid": [round(float(v), 4) for v in objects.centroid[k]],
                "points": int((objects.point_object == k).sum()),
                "scale_m": round(float(objects.scale[k]), 4),
                "confidence": round(float(objects.confidence[k]), 4),
                "views": list(objects.views[k]),
            }
            for k in range(len(objects))
        ],
    }


def load_objects(path: str | Path, key: str | None = None) -> SceneObjects:
    """Read a saved ``objects.npz``; ObjectsFileError naming the file when it is unreadable, of
    another format or version, or (given ``key``) built from something else."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            arrays = {name: torch.from_numpy(np.array(data[name])) for name in _ARRAYS}
            dino = torch.from_numpy(np.array(data["dino"])) if "dino" in data.files else None
    except FileNotFoundError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as err:
        raise ObjectsFileError(f"{path}: unreadable objects file ({type(err).__name__}: {err})") from err
    if not isinstance(header, dict) or header.get("format") != OBJECTS_FORMAT:
        raise ObjectsFileError(f"{path}: not a lerf3d objects file")
    if header.get("version") != OBJECTS_VERSION:
        raise ObjectsFileError(f"{path}: objects format version {header.get('version')!r}, this lerf3d "
                               f"reads version {OBJECTS_VERSION}")
    if key is not None and header.get("key") != key:
        raise ObjectsFileError(f"{path}: stale (built from another checkpoint, point set or settings)")
    try:
        views = tuple(tuple(str(name) for name in v) for v in header["views"])
        return SceneObjects(**arrays, dino=dino, views=views, encoder=str(header["encoder"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ObjectsFileError(f"{path}: inconsistent objects file ({err})") from err
