"""Reading ``ground_truth.json``: object labels, instance ids, 3D boxes and per-frame instance masks.

Generated rooms (``data_tools.make_room``) write it beside their ``transforms.json``; evaluation and the
scene-LLM question generator read it through here, so any scan annotated in the same format works too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STRUCTURE_CATEGORY = "structure"
"""Category of floor, walls and ceiling (not furniture)."""


@dataclass(frozen=True, eq=False)
class GroundTruthObject:
    """One annotated instance."""

    instance_id: int
    """Value of this instance in the frame masks (0 = nothing)."""
    label: str
    """Lower-case object name ("armchair", "floor")."""
    category: str
    """Catalogue category ("Living room") or ``structure``."""
    box_min: np.ndarray
    """(3,) world axis-aligned box minimum, metres."""
    box_max: np.ndarray
    """(3,) world axis-aligned box maximum, metres."""
    catalog_id: str | None = None
    """Catalogue model of a generated room's object (``blendswap-cc-0/armchair2``); None for the
    room shell and for scenes annotated without a catalogue."""
    catalogue: str | None = None
    """Catalogue the model comes from (``BlendSwap-CC-BY``); None where not recorded (older files)."""
    author: str | None = None
    """The model's author as its catalogue names them; None where not recorded."""
    licence: str | None = None
    """The model's licence (``CC0``, ``CC-BY-3.0``, ``CC-BY-3.0-USA``); None where not recorded."""
    source: str | None = None
    """Where the model was published (a web page or an archive folder); None where not recorded."""
    colour: str | None = None
    """Colour word of the model ("red"); None where undecided or not recorded."""
    material: str | None = None
    """Material word of the model ("wooden"); None where undecided or not recorded."""
    parts: tuple[str, ...] = ()
    """Part words its materials name ("seat", "lamp shade"); empty where none or not recorded."""

    @property
    def center(self) -> np.ndarray:
        return (self.box_min + self.box_max) / 2

    @property
    def is_structure(self) -> bool:
        return self.category == STRUCTURE_CATEGORY


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """All annotations of one scene."""

    path: Path
    """The ground_truth.json read."""
    scene: str
    """Scene name."""
    objects: tuple[GroundTruthObject, ...]
    """Every instance, structure included."""
    mask_paths: dict[str, Path]
    """Frame name -> 16-bit instance-id mask."""

    def object(self, instance_id: int) -> GroundTruthObject:
        for obj in self.objects:
            if obj.instance_id == instance_id:
                return obj
        raise KeyError(f"{self.path}: no instance {instance_id}")

    @property
    def furniture(self) -> tuple[GroundTruthObject, ...]:
        """Objects that are not floor, wall or ceiling."""
        return tuple(o for o in self.objects if not o.is_structure)

    def load_mask(self, frame_name: str) -> np.ndarray:
        """(H, W) int32 instance ids of one frame."""
        import warnings

        from PIL import Image

        if frame_name not in self.mask_paths:
            raise KeyError(f"{self.path}: no mask for frame {frame_name!r}")
        path = self.mask_paths[frame_name]
        try:  # a header claiming more pixels than PIL's cap is an error here, not a warning
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as mask:
                    return np.asarray(mask).astype(np.int32)
        except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
            raise ValueError(f"{path}: not a readable instance mask ({type(err).__name__}: {err})") from None


ATTRIBUTION_FIELDS = ("catalogue", "author", "licence", "source")
"""Optional per-object fields naming a model's origin, in :class:`GroundTruthObject` order."""


def _optional_text(record: dict, key: str) -> str | None:
    """``record[key]`` as text; None when absent or null; an error naming the field otherwise."""
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"object {record.get('instance_id')}: field {key!r} must be text, got {value!r}")
    return value


def _text_list(record: dict, key: str) -> tuple[str, ...]:
    """``record[key]`` as a tuple of texts; empty when absent; an error naming the field otherwise."""
    values = record.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(
            f"object {record.get('instance_id')}: field {key!r} must be a list of texts, got {values!r}"
        )
    return tuple(values)


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Read a ground_truth.json (or the one inside a capture folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / "ground_truth.json"
    try:
        data = json.loads(path.read_text())
        objects = tuple(
            GroundTruthObject(
                int(o["instance_id"]),
                str(o["label"]),
                str(o["category"]),
                np.asarray(o["box_min"], np.float64),
                np.asarray(o["box_max"], np.float64),
                o.get("catalog_id"),
                *(_optional_text(o, key) for key in ATTRIBUTION_FIELDS),
                _optional_text(o, "colour"),
                _optional_text(o, "material"),
                _text_list(o, "parts"),
            )
            for o in data["objects"]
        )
        masks = {name: path.parent / entry["mask_path"] for name, entry in data.get("frames", {}).items()}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no ground truth file") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: malformed ground truth ({type(err).__name__}: {err})") from None
    return GroundTruth(path, str(data.get("scene", path.parent.name)), objects, masks)
