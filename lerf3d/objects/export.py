"""Exporting the objects a phrase selects: each as its own PLY (points) and GLB (the fused mesh's
faces on the object), plus one boxes JSON (id, label scores, box, centroid, files).

PLY keeps lerf3d's Z-up world (what open3d and CloudCompare expect of a scan); GLB follows glTF's
+Y-up convention with a vertex-colour material (:func:`lerf3d.fusion.export.write_mesh_glb`), so any glTF
viewer shows the object upright and in colour. The JSON's boxes are in the Z-up world, as stated in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float, Int
from scipy.spatial import cKDTree

from lerf3d.atomic import write_json_atomic
from lerf3d.fusion.export import write_mesh_glb
from lerf3d.objects.scene_objects import ObjectLabels, SceneObjects
from lerf3d.objects.scorer import SNAP_TOLERANCE_M
from lerf3d.query.export import write_relevancy_ply
from lerf3d.query.media import slug
from lerf3d.query.relevancy import NEUTRAL_RELEVANCY

DEFAULT_TOP_OBJECTS = 3
"""Objects exported per phrase at most (the best-scoring ones above neutral relevancy)."""


@dataclass(frozen=True)
class FusedMesh:
    """The run's fused surface (``fusion/mesh.ply``) in lerf3d's Z-up world."""

    vertices: Float[np.ndarray, "V 3"]
    faces: Int[np.ndarray, "F 3"]
    colors: Int[np.ndarray, "V 3"]
    """uint8 RGB per vertex."""


@dataclass(frozen=True)
class ObjectExport:
    """What one export wrote."""

    chosen: tuple[int, ...]
    """Exported object indices, best first (empty when none scored above neutral)."""
    ply: tuple[Path, ...]
    glb: tuple[Path, ...]
    boxes_json: Path


def load_fused_mesh(path: str | Path) -> FusedMesh:
    """Read a fused mesh PLY (vertex colours as uint8)."""
    import trimesh

    mesh = trimesh.load(path, process=False, force="mesh")
    colors = np.asarray(mesh.visual.vertex_colors)[:, :3].astype(np.uint8)
    return FusedMesh(np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64), colors)


def choose_objects(scores: Float[torch.Tensor, " K"], top_k: int) -> list[int]:
    """The ``top_k`` best objects whose relevancy is above neutral (LERF: below 0.5 is "not this")."""
    order = torch.argsort(scores, descending=True, stable=True).tolist()
    return [k for k in order if float(scores[k]) > NEUTRAL_RELEVANCY][:top_k]


def object_faces(mesh: FusedMesh, objects: SceneObjects, index: int,
                 tolerance_m: float = SNAP_TOLERANCE_M) -> FusedMesh:
    """The mesh's faces whose three vertices lie on object ``index`` (each vertex takes the object of
    the nearest fused point within ``tolerance_m``), with their vertices re-indexed."""
    distance, nearest = cKDTree(objects.xyz.numpy()).query(mesh.vertices, k=1, distance_upper_bound=tolerance_m)
    owner = np.full(len(mesh.vertices), -1, dtype=np.int64)
    hit = np.isfinite(distance)
    owner[hit] = objects.point_object.numpy()[nearest[hit]]
    keep = (owner[mesh.faces] == index).all(axis=1)  # (F,)
    used = np.unique(mesh.faces[keep])
    remap = np.full(len(mesh.vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return FusedMesh(mesh.vertices[used], remap[mesh.faces[keep]], mesh.colors[used])


def export_objects(objects: SceneObjects, labels: ObjectLabels, out_dir: str | Path,
                   mesh: FusedMesh | None = None, top_k: int = DEFAULT_TOP_OBJECTS) -> ObjectExport:
    """Write the objects the first phrase of ``labels`` selects (see the module docstring)."""
    if not labels.phrases:
        raise ValueError("export needs one phrase")
    out_dir = Path(out_dir)
    phrase = labels.phrases[0]
    chosen = choose_objects(labels.scores[:, 0], top_k)
    name = slug(phrase)
    plys, glbs, entries = [], [], []
    for k in chosen:
        members = objects.members(k).numpy()
        relevancy = np.full(len(members), float(labels.scores[k, 0]), np.float32)
        plys.append(write_relevancy_ply(out_dir / f"{name}_object{k}.ply", objects.xyz.numpy()[members],
                                        objects.rgb.numpy()[members], relevancy))
        entry = _box_entry(objects, labels, k)
        entry["ply"] = plys[-1].name
        if mesh is not None:
            part = object_faces(mesh, objects, k)
            if len(part.faces):
                path = write_mesh_glb(out_dir / f"{name}_object{k}.glb", part.vertices, part.faces, part.colors)
                glbs.append(path)
                entry["glb"] = path.name
        entries.append(entry)
    report = {"phrase": phrase, "coordinates": "lerf3d world, metres, z up (the GLBs are glTF +Y up)",
              "objects": entries}
    boxes = write_json_atomic(out_dir / f"{name}_objects.json", report)
    return ObjectExport(tuple(chosen), tuple(plys), tuple(glbs), boxes)


def _box_entry(objects: SceneObjects, labels: ObjectLabels, k: int) -> dict:
    def rounded(values: torch.Tensor) -> list[float]:
        return [round(float(v), 4) for v in values]

    return {
        "id": k,
        "label_scores": {p: round(float(labels.scores[k, j]), 4) for j, p in enumerate(labels.phrases)},
        "box_min": rounded(objects.box_min[k]),
        "box_max": rounded(objects.box_max[k]),
        "centroid": rounded(objects.centroid[k]),
        "confidence": round(float(objects.confidence[k]), 4),
        "views": list(objects.views[k]),
    }
