"""The query commands: ``lerf3d query | render | export | eval``, as functions of plain arguments.

Each ``run_*`` opens the checkpoint into a :class:`QueryScene` and calls the function below it that
does the work on a scene (what tests and the viewer call directly). Every file is written atomically.
A ``run_*`` checks its phrases before the checkpoint loads and passes the checked
:class:`~lerf3d.query.phrases.Phrases` down, so nothing below checks them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lerf3d.atomic import write_json_atomic
from lerf3d.preflight import check_output_path
from lerf3d.query.camera import QueryCamera, check_render_size, load_pose_file, orbit_cameras
from lerf3d.query.export import RegionBox, RegionConfig, top_region, write_region_json, write_relevancy_ply
from lerf3d.query.media import check_video_output, phrase_stems, write_png, write_video
from lerf3d.query.options import DEFAULT_VIDEO_FRAMES, DEFAULT_VIDEO_SIZE, RENDER_PATHS
from lerf3d.query.overlay import heatmap_overlay, side_by_side
from lerf3d.query.phrases import Phrases, check_phrases
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, RelevancyMap
from lerf3d.query.scene import QueryScene
from lerf3d.types import PointSet

if TYPE_CHECKING:
    from lerf3d.ground_truth import GroundTruth
    from lerf3d.query.eval_scene import EvalOutput



def _open(checkpoint: str | Path, capture: str | Path | None, device: str, image_text: str | None,
          points: str | Path | None = None) -> QueryScene:
    from lerf3d.query.checkpoint import open_scene

    for flag, path in (("--capture", capture), ("--points", points)):  # before the checkpoint loads
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"{flag} {path}: no such file or folder")
    return open_scene(checkpoint, capture=capture, device=device, image_text=image_text, points_path=points)


# -- query -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class QueryOutput:
    """What ``lerf3d query`` wrote."""

    maps: list[RelevancyMap]
    """One map per phrase."""
    images: list[Path]
    """Heat-map PNG per phrase, then the plain render."""
    summary: Path
    """JSON with each phrase's scale and relevancy range."""


def query_view(scene: QueryScene, camera: QueryCamera, phrases: Sequence[str], out_dir: str | Path,
               negatives: Sequence[str] = CANONICAL_NEGATIVES) -> QueryOutput:
    """Heat maps of ``phrases`` over the render of ``camera``: OUT/<view>_<phrase>.png, OUT/<view>_rgb.png."""
    out_dir = Path(out_dir)
    answer = scene.session.answer(camera, phrases, negatives)
    maps, rgb = answer.maps, answer.view.rgb.cpu().numpy()
    images = [
        write_png(out_dir / f"{camera.name}_{stem}.png", heatmap_overlay(rgb, m.values.cpu().numpy()))
        for m, stem in zip(maps, phrase_stems([m.phrase for m in maps]))
    ]
    images.append(write_png(out_dir / f"{camera.name}_rgb.png", (rgb * 255 + 0.5).astype(np.uint8)))
    summary = write_json_atomic(out_dir / f"{camera.name}_query.json", {
        "view": camera.name,
        "negatives": list(negatives),
        "phrases": [{"phrase": m.phrase, "scale_m": m.scale, "max_relevancy": float(m.values.max()),
                     "min_relevancy": float(m.values.min()), "image": p.name} for m, p in zip(maps, images)],
    })
    return QueryOutput(maps, images, summary)


def run_query(checkpoint: str | Path, phrases: Sequence[str], out_dir: str | Path, *,
              camera: str | None = None, pose: str | Path | None = None,
              capture: str | Path | None = None, device: str = "cpu",
              image_text: str | None = None) -> QueryOutput:
    """``lerf3d query CKPT PHRASE... --camera train:5 | --pose pose.json --out DIR``."""
    if (camera is None) == (pose is None):
        raise ValueError("give exactly one of --camera (train:I, eval:I or a frame name) and --pose FILE")
    phrases = check_phrases(phrases)
    check_output_path(out_dir, folder=True)
    posed = load_pose_file(pose) if pose is not None else None  # a bad pose file fails before loading
    scene = _open(checkpoint, capture, device, image_text)
    view = scene.camera(camera) if camera is not None else posed
    return query_view(scene, view, phrases, out_dir)


# -- render ----------------------------------------------------------------------------------


def path_cameras(scene: QueryScene, path: str, num_frames: int, size: tuple[int, int]) -> list[QueryCamera]:
    """The cameras of a ``--path`` at ``size`` (width, height): ``orbit`` circles the room
    (:func:`orbit_cameras`); ``frames`` follows the capture's training cameras in capture order,
    ``num_frames`` of them evenly spaced (every one when there are fewer)."""
    width, height = size
    if check_render_path(path) == "orbit":
        return orbit_cameras(scene.bounds, num_frames, width, height)
    check_render_size(width, height, "--size")
    frames = scene.frames("train")
    if not frames:
        raise ValueError("--path frames: the capture has no training frames")
    picks = np.unique(np.linspace(0, len(frames) - 1, num_frames).round().astype(int))
    return [QueryCamera(frames[i].intrinsics.scaled(width, height), frames[i].camera_to_world, None, frames[i].name)
            for i in picks]


def check_render_path(path: str) -> str:
    """``path`` when ``lerf3d render`` draws it (:data:`~lerf3d.query.options.RENDER_PATHS`)."""
    if path not in RENDER_PATHS:
        raise ValueError(f"--path {path!r}: only {' or '.join(map(repr, RENDER_PATHS))} are drawn")
    return path


def render_video(scene: QueryScene, cameras: Sequence[QueryCamera], phrases: Sequence[str], out: str | Path,
                 fps: float = 24.0, scales: Sequence[float] | None = None) -> Path:
    """A video of heat maps along ``cameras`` (phrases side by side). Each phrase's scale is searched
    once on the first frame (or given) and kept, so the colours do not jump between scales from frame
    to frame."""
    phrases = check_phrases(phrases)
    check_video_output(out, fps)
    if not cameras:
        raise ValueError("a video needs at least one camera")
    session = scene.session
    if scales is None:
        scales = [m.scale for m in session.query(cameras[0], phrases, use_cache=False)]
    if len(scales) != len(phrases):
        raise ValueError(f"{len(scales)} scales for {len(phrases)} phrases")
    frames = []
    for camera in cameras:
        answer = session.answer(camera, phrases, phrase_scales=scales, use_cache=False)
        rgb = answer.view.rgb.cpu().numpy()
        frames.append(side_by_side([heatmap_overlay(rgb, m.values.cpu().numpy()) for m in answer.maps]))
    return write_video(out, frames, fps)


def render_orbit(scene: QueryScene, phrases: Sequence[str], out: str | Path,
                 num_frames: int = DEFAULT_VIDEO_FRAMES, size: tuple[int, int] = DEFAULT_VIDEO_SIZE,
                 fps: float = 24.0, scales: Sequence[float] | None = None) -> Path:
    """An orbit video of heat maps (:func:`render_video` along the ``orbit`` path)."""
    return render_video(scene, path_cameras(scene, "orbit", num_frames, size), phrases, out, fps, scales)


def run_render(checkpoint: str | Path, phrases: Sequence[str], out: str | Path, *, path: str = "orbit",
               num_frames: int = DEFAULT_VIDEO_FRAMES, size: tuple[int, int] = DEFAULT_VIDEO_SIZE,
               fps: float = 24.0, scale: float | None = None, capture: str | Path | None = None,
               device: str = "cpu", image_text: str | None = None) -> Path:
    """``lerf3d render CKPT --phrase P [--phrase Q] [--path orbit|frames] --out video.mp4|.gif``."""
    check_render_path(path)
    phrases = check_phrases(phrases)
    check_video_output(out, fps)  # everything is checked before the checkpoint loads
    check_render_size(*size, "--size")
    if num_frames < 1:
        raise ValueError(f"--frames must be at least 1, got {num_frames}")
    if scale is not None and not scale > 0:
        raise ValueError(f"--scale must be > 0 m, got {scale}")
    scene = _open(checkpoint, capture, device, image_text)
    scales = None if scale is None else [scale] * len(phrases)
    return render_video(scene, path_cameras(scene, path, num_frames, size), phrases, out, fps, scales)


# -- export ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ExportOutput:
    """What ``lerf3d export`` wrote."""

    ply: Path
    """Coloured points with a per-point ``relevancy`` property."""
    box_json: Path
    """The top region's box."""
    region: RegionBox
    """That box."""


def export_phrase(scene: QueryScene, phrase: str | Phrases, out_ply: str | Path, points: PointSet | None = None,
                  region: RegionConfig = RegionConfig()) -> ExportOutput:
    """Per-point relevancy of ``phrase`` (a string, or the checked :class:`Phrases` of one) on
    ``points`` (default: the scene's fused points), the PLY and the box JSON (same stem, ``.json``)."""
    phrases = check_phrases(phrase if isinstance(phrase, Phrases) else [phrase])
    if len(phrases) != 1:
        raise ValueError(f"export writes one phrase, got {len(phrases)}")
    out_ply = check_export_path(out_ply)
    points = points if points is not None else scene.fused_points()
    (m,) = scene.session.point_query(points.xyz).query(phrases)
    values = m.values.cpu().numpy()
    box = top_region(points.xyz, values, m.phrase, m.scale, region)
    ply = write_relevancy_ply(out_ply, points.xyz, points.rgb, values)
    return ExportOutput(ply, write_region_json(out_ply.with_suffix(".json"), box), box)


def check_export_path(out_ply: str | Path) -> Path:
    """``out_ply`` when export can write it and its box JSON beside it."""
    out_ply = check_output_path(out_ply)
    if out_ply.suffix.lower() != ".ply":
        raise ValueError(f"--out {out_ply}: export writes a .ply")
    return out_ply


def run_export(checkpoint: str | Path, phrase: str, out: str | Path, *, points: str | Path | None = None,
               capture: str | Path | None = None, device: str = "cpu",
               image_text: str | None = None) -> ExportOutput:
    """``lerf3d export CKPT --phrase P --out cup.ply [--points fused/points.ply]`` (default points: the
    run's fusion/points.ply, else a fusion of the capture)."""
    return export_phrase(*open_export(checkpoint, phrase, out, points=points, capture=capture, device=device,
                                      image_text=image_text), out)


def open_export(checkpoint: str | Path, phrase: str, out: str | Path, *, points: str | Path | None = None,
                capture: str | Path | None = None, device: str = "cpu",
                image_text: str | None = None) -> tuple[QueryScene, Phrases]:
    """The scene ``lerf3d export`` reads and its checked phrase, the phrase and the output path
    checked before the checkpoint opens (``lerf3d export --objects`` exports objects from the same
    scene, opened once)."""
    phrases = check_phrases([phrase])
    check_export_path(out)
    return _open(checkpoint, capture, device, image_text, points), phrases


# -- eval ------------------------------------------------------------------------------------


def eval_inputs(checkpoint: str | Path, ground_truth: str | Path | None, out: str | Path, *,
                capture: str | Path | None = None, points: str | Path | None = None,
                max_views: int | None = None, device: str = "cpu",
                image_text: str | None = None) -> tuple[QueryScene, GroundTruth]:
    """The scene and ground truth ``lerf3d eval`` scores, every input checked before the checkpoint
    opens (the output path, the view count, the ground truth file)."""
    from lerf3d.ground_truth import load_ground_truth

    check_output_path(out)
    if max_views is not None and max_views < 1:
        raise ValueError(f"--max-views must be at least 1, got {max_views}")
    truth = load_ground_truth(ground_truth) if ground_truth is not None else None
    scene = _open(checkpoint, capture, device, image_text, points)
    if truth is None:
        if scene.capture is None:
            raise ValueError("pass --gt ground_truth.json (or --capture with one inside)")
        truth = load_ground_truth(scene.capture.root)
    return scene, truth


def run_eval(checkpoint: str | Path, ground_truth: str | Path | None, out: str | Path, *,
             capture: str | Path | None = None, features_dir: str | Path | None = None,
             points: str | Path | None = None, baselines: bool = True, max_views: int | None = None,
             device: str = "cpu", image_text: str | None = None) -> EvalOutput:
    """``lerf3d eval CKPT --gt ground_truth.json --out eval.json``: prints the markdown tables."""
    from lerf3d.query.eval_scene import evaluate_scene

    scene, truth = eval_inputs(checkpoint, ground_truth, out, capture=capture, points=points,
                               max_views=max_views, device=device, image_text=image_text)
    return evaluate_scene(scene, truth, out, baselines=baselines, max_views=max_views,
                          features_dir=features_dir)
