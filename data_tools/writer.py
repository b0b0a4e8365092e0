"""Writing a generated room as a nerfstudio capture plus ``ground_truth.json``.

Layout of the output folder (see ``data_tools/README.md``)::

    images/frame_00000.png   RGB
    depth/frame_00000.png    16-bit depth in millimetres, 0 = no depth
    masks/frame_00000.png    16-bit instance ids, 0 = nothing
    transforms.json          nerfstudio: intrinsics, OpenGL camera-to-world per frame
    ground_truth.json        room size, every instance with label and world box, mask paths
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from data_tools.attributes import Attributes
from data_tools.render import RenderedView
from data_tools.rooms import RoomLayout
from lerf3d.atomic import atomic_path, write_json_atomic
from lerf3d.geometry import opencv_to_opengl
from lerf3d.types import Intrinsics

DEPTH_UNIT_M = 0.001
"""Depth PNGs store millimetres (nerfstudio's default ``depth_unit_scale_factor``)."""

MAX_DEPTH_UNITS = np.iinfo(np.uint16).max
"""Largest storable depth: 65.535 m, far beyond any room."""

GT_DECIMALS = 6
"""Decimals of ground-truth coordinates (micrometres)."""

GROUND_TRUTH_NAME = "ground_truth.json"
"""Ground-truth file name beside ``transforms.json``."""


def frame_name(index: int) -> str:
    """``frame_00000`` style stem of frame ``index``."""
    return f"frame_{index:05d}"


def write_view(out_dir: Path, index: int, view: RenderedView) -> None:
    """Write the RGB, depth and mask PNGs of one view."""
    name = frame_name(index)
    _save_png(out_dir / "images" / f"{name}.png", Image.fromarray(view.rgb))
    _save_png(out_dir / "depth" / f"{name}.png", _uint16_image(depth_to_units(view.depth)))
    _save_png(out_dir / "masks" / f"{name}.png", _uint16_image(view.instance))


def depth_to_units(depth_m: np.ndarray) -> np.ndarray:
    """(H, W) uint16 millimetres of a metric depth map; out-of-range values become 0 (no depth)."""
    units = np.round(np.asarray(depth_m, dtype=np.float64) / DEPTH_UNIT_M)
    units[(units < 0) | (units > MAX_DEPTH_UNITS) | ~np.isfinite(units)] = 0
    return units.astype(np.uint16)


def _uint16_image(array: np.ndarray) -> Image.Image:
    """A 16-bit greyscale PNG image of a uint16 array (PIL mode ``I;16``)."""
    array = np.ascontiguousarray(array, dtype=np.uint16)
    return Image.frombytes("I;16", (array.shape[1], array.shape[0]), array.astype("<u2").tobytes())


def _save_png(path: Path, image: Image.Image) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def write_transforms(out_dir: Path, intrinsics: Intrinsics, poses: np.ndarray) -> Path:
    """nerfstudio ``transforms.json``; ``poses`` are (N, 4, 4) OpenCV camera-to-world."""
    frames = []
    for i, pose in enumerate(poses):
        name = frame_name(i)
        frames.append(
            {
                "file_path": f"images/{name}.png",
                "depth_file_path": f"depth/{name}.png",
                "transform_matrix": opencv_to_opengl(pose).tolist(),
            }
        )
    meta = {
        "camera_model": "OPENCV",
        "fl_x": intrinsics.fx,
        "fl_y": intrinsics.fy,
        "cx": intrinsics.cx,
        "cy": intrinsics.cy,
        "w": intrinsics.width,
        "h": intrinsics.height,
        "k1": 0.0,
        "k2": 0.0,
        "p1": 0.0,
        "p2": 0.0,
        "depth_unit_scale_factor": DEPTH_UNIT_M,
        "frames": frames,
    }
    return write_json_atomic(out_dir / "transforms.json", meta)


def ground_truth(
    scene: str,
    seed: int,
    layout: RoomLayout,
    visible: list[list[int]],
    source: str,
    attributes: dict[str, Attributes] | None = None,
    restyled: frozenset[int] = frozenset(),
    recoloured: Mapping[int, str] | None = None,
) -> dict:
    """The ground-truth record of a room; ``visible[i]`` are the instance ids seen in frame i;
    ``attributes`` (by catalogue id) adds ``colour``, ``material`` and ``parts`` to its objects,
    except to the ``restyled`` instance ids, rendered with random looks (:mod:`data_tools.restyle`):
    those say ``"restyled": true`` instead; ``recoloured`` (instance id -> colour word, objects drawn
    in one flat colour) gives those objects that word, no material and ``"recoloured": true``."""
    recoloured = recoloured or {}
    sx, sy, sz = layout.size
    instances = [_record(s.instance_id, s.label, "structure", s.box_min, s.box_max) for s in layout.surfaces]
    for obj in layout.objects:
        entry = obj.entry
        extra = {"name": entry.name, "catalog_id": entry.catalog_id, "model_split": entry.split}
        origin = {
            "catalogue": entry.catalogue,
            "author": entry.creator,
            "licence": entry.licence,
            "source": entry.source,
        }
        extra.update({key: value or None for key, value in origin.items()})  # primitives have no origin
        words = None if attributes is None else attributes.get(entry.catalog_id)
        if obj.instance_id in restyled:
            extra["restyled"] = True
        elif obj.instance_id in recoloured:
            extra.update({"colour": recoloured[obj.instance_id], "material": None,
                          "parts": list(words.parts) if words else [], "recoloured": True})
        elif words is not None:
            extra.update({"colour": words.colour, "material": words.material, "parts": list(words.parts)})
        extra.update(
            {"size": _rounded(entry.size), "yaw": obj.yaw_deg, "support_instance_id": obj.support_id}
        )
        instances.append(
            _record(obj.instance_id, entry.label, entry.category, obj.box_min, obj.box_max, extra)
        )
    room = {
        "size": [sx, sy, sz],
        "box_min": _rounded([-sx / 2, -sy / 2, 0]),
        "box_max": _rounded([sx / 2, sy / 2, sz]),
    }
    frames = {
        frame_name(i): {"mask_path": f"masks/{frame_name(i)}.png", "instance_ids": ids}
        for i, ids in enumerate(visible)
    }
    return {
        "scene": scene,
        "seed": seed,
        "source": source,
        "units": "metres, Z up",
        "room": room,
        "objects": instances,
        "frames": frames,
    }


def _record(iid: int, label: str, category: str, lo, hi, extra: dict | None = None) -> dict:
    """One instance; structure (floor, walls, ceiling) has no catalogue fields."""
    record = {
        "instance_id": iid,
        "label": label,
        "category": category,
        "catalog_id": None,
        "model_split": None,
        "box_min": _rounded(lo),
        "box_max": _rounded(hi),
        "center": _rounded([(a + b) / 2 for a, b in zip(lo, hi, strict=True)]),
        "yaw": 0,
        "support_instance_id": None,
    }
    record.update(extra or {})
    return record


def _rounded(values) -> list[float]:
    """Micrometre precision: exact for boxes built from millimetre positions, and readable."""
    return [round(float(v), GT_DECIMALS) for v in values]


def write_ground_truth(out_dir: Path, record: dict) -> Path:
    """Write ``ground_truth.json``."""
    return write_json_atomic(out_dir / GROUND_TRUTH_NAME, record)
