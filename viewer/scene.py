"""What the viewer serves: a ready :class:`QuerySession`, the fused points it colours and the named
cameras a user can jump to; built from a checkpoint here or handed over in-process (tests, bench)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lerf3d.encoders.base import ImageTextEncoder
from lerf3d.query.camera import QueryCamera
from lerf3d.query.session import QuerySession, QuerySessionConfig
from lerf3d.runs.layout import CHECKPOINTS_DIR, run_of_checkpoint
from lerf3d.types import PointSet, SceneBounds
from viewer.chat import ChatFn

if TYPE_CHECKING:
    from lerf3d.objects.scene_objects import SceneObjects


VIEWER_CACHE_BYTES = 2 * 1024**3
"""Session cache of a viewer: at least three still views at the default size and the point set's
embeddings (a view is at most ~0.6 GB, see config.FULL_LONG_SIDE); older views are evicted first."""


@dataclass(frozen=True, eq=False)
class ViewerScene:
    """Everything one viewer serves; the session is shared by every client and used under a lock."""

    session: QuerySession
    """Field + encoder (one, long-lived)."""
    points: PointSet
    """Fused points shown in 3D and queried per point (already subsampled, see subsample_points)."""
    cameras: Mapping[str, QueryCamera] = field(default_factory=dict)
    """Named cameras (capture frames, with their depth guide), in the page's order."""
    bounds: SceneBounds | None = None
    """Fused scene bounds (the page frames them); None: the points' bounds."""
    title: str = "lerf3d scene"
    """Shown in the page's header."""
    chat: ChatFn | None = None
    """The scene LLM, when one was loaded (the chat panel and endpoint exist only then)."""
    capture_root: Path | None = None
    """The capture the field was trained on (the scene LLM's features are computed from it)."""
    objects: SceneObjects | None = None
    """The scene's 3D objects (lerf3d.objects), drawn as boxes and queried in object mode; None: the
    page has no object panel."""

    def __post_init__(self) -> None:
        xyz, rgb = np.asarray(self.points.xyz), np.asarray(self.points.rgb)
        if xyz.ndim != 2 or xyz.shape[1] != 3 or rgb.shape != xyz.shape or len(xyz) == 0:
            raise ValueError(f"points must be non-empty (N, 3) xyz and rgb, got {xyz.shape}, {rgb.shape}")

    @property
    def scene_bounds(self) -> SceneBounds:
        if self.bounds is not None:
            return self.bounds
        xyz = np.asarray(self.points.xyz, np.float64)
        return SceneBounds(xyz.min(axis=0), xyz.max(axis=0))


def subsample_points(points: PointSet, max_points: int, seed: int = 0) -> PointSet:
    """At most ``max_points`` of ``points`` (a seeded random subset, in the original order)."""
    n = len(points.xyz)
    if n <= max_points:
        return PointSet(np.asarray(points.xyz, np.float32), np.asarray(points.rgb, np.float32))
    keep = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    return PointSet(np.asarray(points.xyz[keep], np.float32), np.asarray(points.rgb[keep], np.float32))


def load_viewer_scene(
    checkpoint: str | Path,
    capture: str | Path | None = None,
    device: str = "cpu",
    image_text: str | None = None,
    max_points: int = 40_000,
    cache_bytes: int = VIEWER_CACHE_BYTES,
    seed: int = 0,
    encoder: ImageTextEncoder | None = None,
    objects: bool = True,
) -> ViewerScene:
    """A scene from a training checkpoint (``lerf3d view CKPT``): its field, encoder (the recorded
    one, ``image_text``'s, or ``encoder`` itself), fused points (the run's fusion/points.ply, else a
    fusion of its capture), the capture's frames as cameras and (``objects``) the run's objects,
    loaded from RUN/objects/ or built and saved there."""
    from lerf3d.query.checkpoint import open_scene
    from lerf3d.query.scene import frame_camera
    from lerf3d.runs import resolve_checkpoint

    scene = open_scene(checkpoint, capture=capture, device=device, image_text=image_text, encoder=encoder,
                       config=QuerySessionConfig(cache_bytes=cache_bytes))
    cameras: dict[str, QueryCamera] = {}
    if scene.capture is not None:
        cameras = {frame.name: frame_camera(frame) for frame in scene.capture.frames}
    points = subsample_points(scene.fused_points(), max_points, seed)
    name = Path(checkpoint).resolve()
    title = run_of_checkpoint(name).root.name if name.parent.name == CHECKPOINTS_DIR else name.name
    capture_root = scene.capture.root if scene.capture is not None else None
    found = None
    if objects:
        from lerf3d.objects.commands import scene_objects

        result = scene_objects(scene, resolve_checkpoint(checkpoint))
        print(f"lerf3d view: {len(result.objects)} objects {result.origin}", flush=True)
        found = result.objects
    return ViewerScene(scene.session, points, cameras, scene.bounds, title, capture_root=capture_root,
                       objects=found)
