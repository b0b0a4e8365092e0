"""``lerf3d eval``: the field and both baselines on every annotated view of a scene, in one run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lerf3d.atomic import write_json_atomic
from lerf3d.capture.io import resize_depth_nearest
from lerf3d.features.extractor import FeatureExtractor, FeatureExtractorConfig
from lerf3d.ground_truth import GroundTruth
from lerf3d.query.baselines import PointFusionScorer, PyramidScorer, fuse_pyramids
from lerf3d.query.evaluate import (
    IOU_THRESHOLD,
    MIN_MASK_FRACTION,
    EvalFrame,
    FieldScorer,
    PhraseScore,
    ViewScorer,
    evaluate_frames,
    markdown_tables,
    report_json,
)
from lerf3d.query.scene import QueryScene, frame_camera


@dataclass(frozen=True, eq=False)
class EvalOutput:
    """What ``lerf3d eval`` produced."""

    scores: list[PhraseScore]
    """Every (method, view, label) score."""
    table: str
    """The markdown tables it printed."""
    json_path: Path
    """The JSON report."""


def eval_frames(scene: QueryScene, truth: GroundTruth, max_views: int | None = None) -> list[EvalFrame]:
    """Annotated views, held-out first, at most ``max_views`` per split; masks resampled to the RGB grid."""
    if scene.capture is None:
        raise ValueError("evaluation needs the capture: pass --capture DIR")
    labels = {o.instance_id: o.label for o in truth.furniture}
    frames = []
    for split in ("held_out", "train"):
        chosen = [f for f in scene.frames(split) if f.name in truth.mask_paths][:max_views]
        for frame in chosen:
            k = frame.intrinsics
            mask = truth.load_mask(frame.name)
            if mask.shape != (k.height, k.width):
                mask = resize_depth_nearest(mask, k.width, k.height)  # nearest: ids are not averaged
            frames.append(EvalFrame(frame_camera(frame), split, mask, labels))
    if not frames:
        raise ValueError(f"{truth.path}: no frame of the capture has an instance mask")
    return frames


def baseline_scorers(scene: QueryScene, features_dir: str | Path | None) -> list[ViewScorer]:
    """(a) the raw 2D crop pyramid and (b) ConceptFusion-style fusion of the training frames' pyramids."""
    session = scene.session
    capture = scene.capture
    assert capture is not None
    cache = features_dir if features_dir is not None else scene.features_dir
    config = FeatureExtractorConfig(pyramid=scene.pyramid, show_progress=False)
    features = FeatureExtractor(config, session.encoder, None, cache).extract(capture)
    pyramids = {name: f.pyramid for name, f in features.frames.items()}
    points = scene.fused_points()
    xyz = torch.as_tensor(np.asarray(points.xyz), dtype=torch.float32)
    train = [f for f in capture.frames if scene.split_of(f) == "train"]
    views = [(frame_camera(f), pyramids[f.name]) for f in train]
    fused = fuse_pyramids(xyz, views, session.config.point_scales)
    search = session.config.search
    return [PyramidScorer(pyramids, session.encoder, session.scales, search),
            PointFusionScorer(xyz, fused, session.encoder, search)]


def evaluate_scene(
    scene: QueryScene, truth: GroundTruth, out: str | Path, baselines: bool = True,
    max_views: int | None = None,
    features_dir: str | Path | None = None, iou_threshold: float = IOU_THRESHOLD,
    min_fraction: float = MIN_MASK_FRACTION, extra_scorers: Sequence[ViewScorer] = (),
) -> EvalOutput:
    """Score the field, ``extra_scorers`` (e.g. the object mode of a layer above) and the baselines
    on every annotated view; print and write the report."""
    frames = eval_frames(scene, truth, max_views)
    scorers: list[ViewScorer] = [FieldScorer(scene.session), *extra_scorers]
    if baselines:
        scorers += baseline_scorers(scene, features_dir)
    scores = evaluate_frames(frames, scorers, iou_threshold, min_fraction)
    table = markdown_tables(scores, truth.scene)
    print(table)
    report = report_json(scores, truth.scene, iou_threshold, min_fraction)
    report["views"] = {split: sum(f.split == split for f in frames) for split in ("held_out", "train")}
    return EvalOutput(scores, table, write_json_atomic(out, report))
