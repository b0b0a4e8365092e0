"""A trained scene ready for queries: the session plus what the commands need around it (the capture
it was trained on, its training split, the crop-pyramid settings the baselines reuse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lerf3d.capture.io import load_depth, resize_depth_nearest
from lerf3d.features.tiling import PyramidConfig
from lerf3d.query.camera import QueryCamera, camera_from_frame
from lerf3d.query.session import QuerySession
from lerf3d.types import Capture, Frame, PointSet, SceneBounds

SPLIT_PREFIXES = {"train": "train", "eval": "held_out", "held_out": "held_out", "test": "held_out"}
"""``--camera`` prefixes: ``train:I`` is the I-th training frame, ``eval:I`` the I-th held-out frame."""


@dataclass(frozen=True, eq=False)
class QueryScene:
    """Everything the query commands work on."""

    session: QuerySession
    """Field + encoder."""
    capture: Capture | None
    """The capture the field was trained on (None: only ``--pose`` cameras and given points work)."""
    train_frames: tuple[str, ...] = ()
    """Names of the training frames; the other frames of the capture are held out."""
    pyramid: PyramidConfig = field(default_factory=PyramidConfig)
    """Crop-pyramid settings of training (the baselines extract the same pyramids)."""
    features_dir: Path | None = None
    """Feature cache folder (pyramids already extracted for training are loaded, not recomputed)."""
    points: PointSet | None = None
    """Fused surface points (``lerf3d fuse``'s points.ply); None fuses the capture when needed."""

    @property
    def bounds(self) -> SceneBounds:
        """The field's box without its contraction margin: the fused scene's bounds."""
        margin = self.session.field.config.contraction.margin
        lower = self.session.field.lower.detach().cpu().double().numpy() + margin
        upper = self.session.field.upper.detach().cpu().double().numpy() - margin
        return SceneBounds(lower, upper)

    def _capture(self) -> Capture:
        if self.capture is None:
            raise ValueError("this scene has no capture: pass --capture DIR (the capture it was trained on)")
        return self.capture

    def split_of(self, frame: Frame) -> str:
        """"train" or "held_out" (every frame counts as training when the split is unknown)."""
        return "train" if not self.train_frames or frame.name in self.train_frames else "held_out"

    def frames(self, split: str) -> list[Frame]:
        return [f for f in self._capture().frames if self.split_of(f) == split]

    def camera(self, spec: str, with_depth: bool = True) -> QueryCamera:
        """The camera of ``train:I``, ``eval:I`` or a frame name, guided by its measured depth."""
        prefix, _, index = spec.partition(":")
        if prefix in SPLIT_PREFIXES and index:
            frames = self.frames(SPLIT_PREFIXES[prefix])
            try:
                if not index.isdigit():  # int() would take "-1" and index from the end
                    raise ValueError(index)
                frame = frames[int(index)]
            except (ValueError, IndexError):
                raise ValueError(f"--camera {spec}: {SPLIT_PREFIXES[prefix]} frames are numbered "
                                 f"0..{len(frames) - 1}") from None
        else:
            try:
                frame = self._capture().frame(spec)
            except KeyError as err:
                raise ValueError(f"--camera {spec}: not train:I, eval:I or a frame name ({err})") from None
        return frame_camera(frame, with_depth)

    def fused_points(self) -> PointSet:
        """The given fused points, else the TSDF fusion of the capture (what ``lerf3d fuse`` writes)."""
        from lerf3d.fusion import FusionConfig, fuse_capture

        if self.points is not None:
            return self.points
        return fuse_capture(self._capture(), FusionConfig(progress=False)).points


def frame_camera(frame: Frame, with_depth: bool = True) -> QueryCamera:
    """A frame's camera with its depth resampled onto the RGB grid (when it has one and it is wanted)."""
    depth = None
    if with_depth and frame.depth_path is not None:
        k = frame.intrinsics
        depth = load_depth(frame)
        if depth.shape != (k.height, k.width):
            depth = resize_depth_nearest(depth, k.width, k.height)
        depth = np.ascontiguousarray(depth, dtype=np.float32)
    return camera_from_frame(frame, depth)
