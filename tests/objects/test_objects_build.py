"""The object layer end to end on the known-answer scene (the tiny room with a field fitted to its
instance masks): every piece of furniture becomes one object, labelled right, seen from many views,
and object mode lights exactly the pieces a phrase names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lerf3d.fusion import FusionConfig, fuse_capture
from lerf3d.objects.build import ObjectsConfig, build_objects
from lerf3d.objects.commands import evaluate_scene_objects, scene_objects
from lerf3d.objects.scorer import ObjectScorer
from lerf3d.objects.store import OBJECTS_FILE
from lerf3d.query.scene import QueryScene, frame_camera

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(gt_scene):
    capture = gt_scene.capture
    points = fuse_capture(capture, FusionConfig(progress=False)).points
    session = gt_scene.viewer.session
    cameras = [frame_camera(f) for f in capture.frames]
    # crop_views=0: the known-answer encoder's image side is a colour projection, not a tower
    objects = build_objects(session.field, session.encoder, points, cameras, None, ObjectsConfig(crop_views=0))
    return QueryScene(session, capture, points=points), objects


def test_every_piece_is_one_object_with_its_label(built, gt_scene):
    scene, objects = built
    result = evaluate_scene_objects(scene, objects, gt_scene.ground_truth)
    assert result.num_annotated >= 3
    assert result.recall == 1.0 and result.precision >= 0.8
    assert result.label_top1 == 1.0
    matched = {instance: index for index, instance in result.matches}
    for obj in gt_scene.ground_truth.furniture:
        if obj.instance_id not in matched:
            continue
        index = matched[obj.instance_id]
        centre = objects.centroid[index].numpy()
        assert np.all(centre >= obj.box_min - 0.05) and np.all(centre <= obj.box_max + 0.05), obj.label
        assert len(objects.views[index]) >= 3, f"{obj.label}: seen in {objects.views[index]}"
        assert float(objects.confidence[index]) > 0.5


def test_object_mode_lights_whole_objects_of_the_phrase(built, gt_scene):
    scene, objects = built
    truth = gt_scene.ground_truth
    scorer = ObjectScorer(objects, scene.session.encoder)
    labels = sorted({o.label for o in truth.furniture})
    hits, pairs = 0, 0
    for frame in gt_scene.capture.frames[:6]:
        camera = frame_camera(frame)
        mask = truth.load_mask(frame.name)
        maps = scorer.maps(camera, labels)
        for label, relevancy in zip(labels, maps):
            ids = [o.instance_id for o in truth.furniture if o.label == label]
            inside = np.isin(mask, ids)
            if inside.mean() < 0.01:
                continue
            values = relevancy.values.numpy()
            pairs += 1
            hits += bool(inside.reshape(-1)[values.argmax()])
            lit = values > 0.5
            iou = (lit & inside).sum() / max(1, (lit | inside).sum())
            assert iou > 0.5, f"{frame.name} {label!r}: IoU {iou:.2f}"
    assert pairs >= 6 and hits == pairs
    again = scorer.maps(frame_camera(gt_scene.capture.frames[0]), [labels[0]])[0]
    torch.testing.assert_close(again.values, scorer.maps(frame_camera(gt_scene.capture.frames[0]), labels)[0].values)


def test_saved_objects_are_reused_and_a_corrupt_copy_rebuilt(built, tmp_path):
    scene, _ = built
    checkpoint = tmp_path / "run" / "checkpoints" / "step-1.ckpt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"stands for the field's weights")
    config = ObjectsConfig(crop_views=0)  # the known-answer encoder encodes no images
    first = scene_objects(scene, checkpoint, config)
    assert first.origin.startswith("built") and first.path == tmp_path / "run" / "objects" / OBJECTS_FILE
    assert scene_objects(scene, checkpoint, config).origin == "loaded"
    first.path.write_bytes(first.path.read_bytes()[:100])
    rebuilt = scene_objects(scene, checkpoint, config)
    assert "unreadable" in rebuilt.origin and len(rebuilt.objects) == len(first.objects)
    checkpoint.write_bytes(b"retrained weights")
    assert "stale" in scene_objects(scene, checkpoint, config).origin
    assert "stale" in scene_objects(scene, checkpoint, ObjectsConfig(crop_views=0, view_samples=64)).origin
