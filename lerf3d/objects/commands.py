"""``lerf3d objects | export | eval``: a run's objects built (or reused), exported, and scored beside
the per-pixel mode where ground truth exists.

A run's objects live in ``RUN/objects/``; :func:`scene_objects` returns the saved ones when they
were built from the same checkpoint, fused points and settings, and rebuilds them (saying why) when
the copy is missing, corrupt or stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lerf3d.atomic import write_json_atomic
from lerf3d.capture.io import FrameImages
from lerf3d.ground_truth import GroundTruth, load_ground_truth
from lerf3d.objects.build import ObjectsConfig, build_objects
from lerf3d.objects.evaluate import TABLE_HEADER, ObjectEvaluation, annotate_points, evaluate_objects
from lerf3d.objects.export import DEFAULT_TOP_OBJECTS, ObjectExport, export_objects, load_fused_mesh
from lerf3d.objects.scene_objects import SceneObjects
from lerf3d.objects.scorer import ObjectScorer
from lerf3d.objects.store import OBJECTS_FILE, ObjectsFileError, build_key, load_objects, save_objects
from lerf3d.preflight import check_output_path
from lerf3d.query.camera import QueryCamera
from lerf3d.query.checkpoint import open_scene
from lerf3d.query.commands import eval_inputs
from lerf3d.query.eval_scene import EvalOutput, evaluate_scene
from lerf3d.query.scene import QueryScene, frame_camera
from lerf3d.runs import resolve_checkpoint, run_of_checkpoint


@dataclass(frozen=True, eq=False)
class ObjectsResult:
    """A run's objects and how they were obtained."""

    objects: SceneObjects
    path: Path
    """The saved ``objects.npz``."""
    origin: str
    """"loaded", or "built" with the reason the saved copy was not used."""


def scene_cameras(scene: QueryScene) -> list[QueryCamera]:
    """Every captured frame of the scene as a camera with its measured depth (for view lists)."""
    if scene.capture is None:
        return []
    return [frame_camera(f) for f in scene.capture.frames if f.depth_path is not None]


def scene_images(scene: QueryScene) -> Mapping[str, np.ndarray]:
    """Every captured frame's RGB image by frame name, read when a crop is cut from it (crops of the
    views that show each object largest)."""
    if scene.capture is None:
        return {}
    return FrameImages(scene.capture.frames)


def scene_objects(scene: QueryScene, checkpoint: Path, config: ObjectsConfig | None = None,
                  rebuild: bool = False) -> ObjectsResult:
    """The run's saved objects when still valid, else built now and saved (default settings when
    ``config`` is None)."""
    config = config if config is not None else ObjectsConfig()
    folder = run_of_checkpoint(checkpoint).objects
    points = scene.fused_points()
    key = build_key(checkpoint, points.xyz, asdict(config))
    path = folder / OBJECTS_FILE
    reason = "asked to rebuild" if rebuild else "none saved"
    if not rebuild and path.is_file():
        try:
            return ObjectsResult(load_objects(path, key), path, "loaded")
        except ObjectsFileError as err:
            reason = str(err)
    cameras = scene_cameras(scene)
    images = scene_images(scene) if config.crop_views > 0 else None
    objects = build_objects(scene.session.field, scene.session.encoder, points, cameras, images, config)
    return ObjectsResult(objects, save_objects(objects, folder, key), f"built ({reason})")


def evaluate_scene_objects(scene: QueryScene, objects: SceneObjects, truth: GroundTruth) -> ObjectEvaluation:
    """Recall, precision, label top-1 and counts of ``objects`` against the scene's annotations."""
    if scene.capture is None:
        raise ValueError("scoring objects needs the capture (its instance masks): pass --capture DIR")
    views = []
    for frame in scene.capture.frames:
        if frame.name in truth.mask_paths and frame.depth_path is not None:
            views.append((frame_camera(frame), truth.load_mask(frame.name)))
    if not views:
        raise ValueError(f"{truth.path}: no frame of the capture has both depth and an instance mask")
    annotated = annotate_points(objects.xyz, views)
    labels = objects.label(annotated_labels(truth), scene.session.encoder)
    return evaluate_objects(objects, labels, truth.furniture, annotated, truth.scene)


def annotated_labels(truth: GroundTruth) -> list[str]:
    """The vocabulary a scored scene's objects are named against: its annotated furniture labels (the
    label and count figures, and object mode's parts, :class:`~lerf3d.objects.scorer.ObjectScorer`)."""
    return sorted({o.label for o in truth.furniture})


def annotated_scorer(scene: QueryScene, objects: SceneObjects, truth: GroundTruth) -> ObjectScorer:
    """Object mode of a scored scene, its parts joined by names against :func:`annotated_labels`."""
    return ObjectScorer(objects, scene.session.encoder, vocabulary=annotated_labels(truth))


def run_objects(checkpoint: str | Path, *, capture: str | Path | None = None, device: str = "cpu",
                image_text: str | None = None, rebuild: bool = False,
                ground_truth: str | Path | None = None,
                score: bool = True) -> tuple[ObjectsResult, ObjectEvaluation | None]:
    """``lerf3d objects RUN``: the objects, and (``score``) their figures when the capture has ground
    truth."""
    path = resolve_checkpoint(checkpoint)
    scene = open_scene(path, capture=capture, device=device, image_text=image_text)
    result = scene_objects(scene, path, rebuild=rebuild)
    truth_path = ground_truth
    if score and truth_path is None and scene.capture is not None and (scene.capture.root / "ground_truth.json").is_file():
        truth_path = scene.capture.root
    evaluation = None
    if truth_path is not None:
        evaluation = evaluate_scene_objects(scene, result.objects, load_ground_truth(truth_path))
        write_json_atomic(run_of_checkpoint(path).eval / "objects.json", asdict(evaluation))
    return result, evaluation


def describe(result: ObjectsResult, evaluation: ObjectEvaluation | None) -> str:
    """What ``lerf3d objects`` prints."""
    objects = result.objects
    lines = [f"{len(objects)} objects {result.origin} -> {result.path}"]
    if evaluation is not None:
        lines += [TABLE_HEADER, evaluation.row()]
        wrong = {k: v for k, v in evaluation.counts.items() if v[0] != v[1]}
        if wrong:
            lines.append("counts off (predicted/annotated): "
                         + ", ".join(f"{k} {p}/{a}" for k, (p, a) in sorted(wrong.items())))
    return "\n".join(lines)


def run_export(checkpoint: str | Path, phrase: str, out_dir: str | Path, *, capture: str | Path | None = None,
               device: str = "cpu", image_text: str | None = None, top_k: int = DEFAULT_TOP_OBJECTS,
               rebuild: bool = False) -> ObjectExport:
    """``lerf3d export RUN --phrase X --objects``: the objects ``phrase`` selects, each as PLY and GLB,
    with a boxes JSON."""
    check_output_path(out_dir, folder=True)
    path = resolve_checkpoint(checkpoint)
    scene = open_scene(path, capture=capture, device=device, image_text=image_text)
    return export_scene_objects(scene, path, phrase, out_dir, top_k, rebuild)


def export_scene_objects(scene: QueryScene, checkpoint: Path, phrase: str, out_dir: str | Path,
                         top_k: int = DEFAULT_TOP_OBJECTS, rebuild: bool = False) -> ObjectExport:
    """:func:`run_export` on a scene already open (``checkpoint`` is its resolved checkpoint file)."""
    objects = scene_objects(scene, checkpoint, rebuild=rebuild).objects
    labels = objects.label([phrase], scene.session.encoder)
    mesh_path = run_of_checkpoint(checkpoint).fusion_mesh
    mesh = load_fused_mesh(mesh_path) if mesh_path.is_file() else None
    return export_objects(objects, labels, out_dir, mesh, top_k)


def run_eval(checkpoint: str | Path, ground_truth: str | Path | None, out: str | Path, *,
             capture: str | Path | None = None, features_dir: str | Path | None = None,
             points: str | Path | None = None, baselines: bool = True, max_views: int | None = None,
             device: str = "cpu", image_text: str | None = None) -> tuple[EvalOutput, ObjectEvaluation]:
    """``lerf3d eval RUN``: per-pixel and object-mode localisation/mIoU beside the baselines, and the
    object layer's own figures, in one run."""
    scene, truth = eval_inputs(checkpoint, ground_truth, out, capture=capture, points=points,
                               max_views=max_views, device=device, image_text=image_text)
    objects = scene_objects(scene, resolve_checkpoint(checkpoint)).objects
    scorer = annotated_scorer(scene, objects, truth)
    output = evaluate_scene(scene, truth, out, baselines=baselines, max_views=max_views,
                            features_dir=features_dir, extra_scorers=[scorer])
    evaluation = evaluate_scene_objects(scene, objects, truth)
    write_json_atomic(Path(out).with_name(Path(out).stem + "_objects.json"), asdict(evaluation))
    return output, evaluation
