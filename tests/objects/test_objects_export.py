"""Object export: the selected objects as PLY (read back by open3d) and GLB (read back by trimesh,
+Y up, with a material), and a boxes JSON."""

from __future__ import annotations

import json

import numpy as np
import open3d as o3d
import torch
import trimesh
from gltf_spec import accessor, assert_valid_gltf, linear_to_srgb, needs_node, read_glb
from objects_helpers import boxes_objects

from lerf3d.objects.export import FusedMesh, choose_objects, export_objects, load_fused_mesh
from lerf3d.objects.scene_objects import ObjectLabels

BOXES = [((0.0, 0.0, 0.0), (0.5, 0.5, 0.8)), ((1.0, 0.0, 0.0), (2.0, 1.0, 0.75))]


def _mesh(tmp_path) -> FusedMesh:
    """Both boxes as one coloured triangle mesh written to PLY (as fusion/mesh.ply is)."""
    parts = []
    for lo, hi in BOXES:
        box = trimesh.creation.box(bounds=[lo, hi])
        box.visual.vertex_colors = np.tile([200, 30, 30, 255], (len(box.vertices), 1))
        parts.append(box)
    path = tmp_path / "mesh.ply"
    trimesh.util.concatenate(parts).export(path)
    return load_fused_mesh(path)


def test_choose_objects_keeps_the_best_above_neutral():
    assert choose_objects(torch.tensor([0.6, 0.4, 0.9, 0.55]), 2) == [2, 0]
    assert choose_objects(torch.tensor([0.2, 0.5]), 3) == []


def test_export_round_trip_through_open3d_and_trimesh(tmp_path):
    objects = boxes_objects(BOXES, torch.eye(2))
    labels = ObjectLabels(("armchair",), torch.tensor([[0.3], [0.8]]))
    out = export_objects(objects, labels, tmp_path / "out", mesh=_mesh(tmp_path))
    assert out.chosen == (1,) and len(out.ply) == 1 and len(out.glb) == 1
    cloud = o3d.io.read_point_cloud(str(out.ply[0]))
    members = objects.members(1).numpy()
    assert len(cloud.points) == len(members)
    np.testing.assert_allclose(np.asarray(cloud.points), objects.xyz.numpy()[members], atol=1e-6)
    np.testing.assert_allclose(np.asarray(cloud.colors), 0.5, atol=1 / 255)
    scene = trimesh.load(out.glb[0])
    geometry = next(iter(scene.geometry.values()))
    lo, hi = scene.bounds
    np.testing.assert_allclose([lo[1], hi[1]], [0.0, 0.75], atol=1e-6)  # height is glTF's +Y
    np.testing.assert_allclose([lo[2], hi[2]], [-1.0, 0.0], atol=1e-6)  # world y became -z
    np.testing.assert_allclose([lo[0], hi[0]], [1.0, 2.0], atol=1e-6)  # only the second box
    material = geometry.visual.material
    assert float(material.metallicFactor) == 0.0
    tree, binary = read_glb(out.glb[0])  # the mesh's sRGB bytes, stored linear as glTF's COLOR_0
    colours = accessor(tree, binary, tree["meshes"][0]["primitives"][0]["attributes"]["COLOR_0"])
    np.testing.assert_allclose(linear_to_srgb(colours[:, :3]) * 255, np.tile([200, 30, 30], (len(colours), 1)), atol=0.5)
    boxes = json.loads(out.boxes_json.read_text())
    assert boxes["phrase"] == "armchair" and [o["id"] for o in boxes["objects"]] == [1]
    entry = boxes["objects"][0]
    assert entry["box_min"] == [1.0, 0.0, 0.0] and entry["box_max"] == [2.0, 1.0, 0.75]
    assert entry["label_scores"] == {"armchair": 0.8} and entry["glb"] == out.glb[0].name


@needs_node
def test_exported_glb_passes_the_khronos_validator(tmp_path):
    objects = boxes_objects(BOXES, torch.eye(2))
    out = export_objects(objects, ObjectLabels(("armchair",), torch.tensor([[0.3], [0.8]])), tmp_path / "out",
                         mesh=_mesh(tmp_path))
    (glb,) = out.glb
    assert_valid_gltf(glb)


def test_export_with_no_selected_object_writes_an_empty_list(tmp_path):
    objects = boxes_objects(BOXES, torch.eye(2))
    out = export_objects(objects, ObjectLabels(("oven",), torch.tensor([[0.1], [0.2]])), tmp_path)
    assert out.chosen == () and json.loads(out.boxes_json.read_text())["objects"] == []
