"""Language features on a fused 3D point set: the input of scene tokens (Scene-LLM, sec. 3).

Two sources, one protocol (:class:`PointEmbedder`: ``embed_points(xyz, scale) -> (N, D)``):

- **back-projection** of each frame's crop pyramid through depth (ConceptFusion-style, no training):
  every point is projected into every frame, kept where the frame's depth map agrees with the
  point's depth (it is the visible surface there, not something behind it), the pyramid embedding
  at that pixel and scale is sampled, and the samples are averaged over frames and re-normalised;
- a **trained language field** at a chosen world scale (``lerf3d.field.model.LerfField``, through
  :class:`FieldClipEmbedder`).

:func:`lift_features` turns either into a :class:`FeaturePoints`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from tqdm import tqdm

from lerf3d.capture.io import load_depth
from lerf3d.features.extractor import CaptureFeatures
from lerf3d.features.interpolate import NORM_EPS, level_from_world_scale, sample_pyramid
from lerf3d.features.pyramid import FeaturePyramid
from lerf3d.geometry import DEPTH_TOLERANCE_M, DEPTH_TOLERANCE_REL, project, visible_mask
from lerf3d.types import Capture, PointSet

DEFAULT_WORLD_SCALE_M = 0.5
"""Physical scale (metres) of the features handed to the LLM. Our choice: about the size of a piece
of furniture, the unit the generated questions talk about; LERF's scale search spans [0, 1.5] m."""

@dataclass(frozen=True, eq=False)
class FeaturePoints:
    """A point set carrying one language feature per point."""

    xyz: Float[torch.Tensor, "N 3"]
    """World coordinates, metres."""
    rgb: Float[torch.Tensor, "N 3"]
    """Colours in [0, 1]."""
    features: Float[torch.Tensor, "N D"]
    """Unit-norm language features; all-zero rows where no source saw the point."""
    source: str
    """Where the features came from, e.g. ``backproject:<encoder>@0.5m`` or ``field@0.5m``."""

    def __post_init__(self) -> None:
        num = self.xyz.shape[0]
        if self.xyz.ndim != 2 or self.xyz.shape[1] != 3:
            raise ValueError(f"FeaturePoints.xyz must be (N, 3), got {tuple(self.xyz.shape)}")
        if tuple(self.rgb.shape) != (num, 3):
            raise ValueError(f"FeaturePoints.rgb must be ({num}, 3), got {tuple(self.rgb.shape)}")
        if self.features.ndim != 2 or self.features.shape[0] != num:
            raise ValueError(f"FeaturePoints.features must be ({num}, D), got {tuple(self.features.shape)}")

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def observed(self) -> Bool[torch.Tensor, " N"]:
        """True where the point received a feature (a zero row means "never seen")."""
        return self.features.abs().sum(dim=1) > 0


@runtime_checkable
class PointEmbedder(Protocol):
    """Anything that gives a language feature at world points for a physical scale (metres)."""

    def embed_points(self, xyz: Float[torch.Tensor, "N 3"], scale: float) -> Float[torch.Tensor, "N D"]:
        ...


@dataclass(frozen=True)
class BackprojectionConfig:
    """Settings of :func:`backproject_pyramid`."""

    depth_tolerance_m: float = DEPTH_TOLERANCE_M
    """Absolute depth agreement (metres) for a point to count as visible in a frame."""
    depth_tolerance_rel: float = DEPTH_TOLERANCE_REL
    """Relative depth agreement (fraction of the measured depth), added to the absolute one."""
    frame_stride: int = 1
    """Use every n-th frame (fewer frames: faster, fewer views per point)."""
    show_progress: bool = False
    """Show a tqdm bar over the frames."""

    def __post_init__(self) -> None:
        if self.depth_tolerance_m < 0 or self.depth_tolerance_rel < 0:
            raise ValueError(f"depth tolerances must be >= 0, got {self.depth_tolerance_m}, "
                             f"{self.depth_tolerance_rel}")
        if self.frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1, got {self.frame_stride}")


def _levels_for(
    pyramid: FeaturePyramid,
    depth: Float[torch.Tensor, " n"],
    fy: float,
    level: float | None,
    world_scale: float | None,
) -> Float[torch.Tensor, " n"]:
    """Fractional pyramid level per point: fixed, or the level whose tiles span ``world_scale`` at
    the point's depth (near points get small tiles, far points large ones)."""
    if level is not None:
        return torch.full_like(depth, float(level))
    assert world_scale is not None
    scale = torch.full_like(depth, float(world_scale))
    return level_from_world_scale(scale, depth, fy, pyramid.image_height, pyramid.tile_fractions)


def _check_scale(level: float | None, world_scale: float | None) -> None:
    if (level is None) == (world_scale is None):
        raise ValueError(f"give exactly one of level and world_scale (got level={level}, "
                         f"world_scale={world_scale})")
    if world_scale is not None and not world_scale > 0:
        raise ValueError(f"world_scale must be > 0 metres, got {world_scale}")
    if level is not None and level < 0:
        raise ValueError(f"level must be >= 0, got {level}")


def backproject_embeddings(
    capture: Capture,
    capture_features: CaptureFeatures,
    xyz: Float[torch.Tensor, "N 3"],
    level: float | None = None,
    world_scale: float | None = None,
    config: BackprojectionConfig = BackprojectionConfig(),
) -> tuple[Float[torch.Tensor, "N D"], Int[torch.Tensor, " N"]]:
    """Mean pyramid embedding of each point over the frames that see it, re-normalised, and the
    number of those frames. Exactly one of ``level`` (fractional pyramid level, same for every
    point) or ``world_scale`` (metres, converted per point and frame) is given."""
    _check_scale(level, world_scale)
    if not capture.has_depth:
        raise ValueError(f"capture {capture.root}: back-projection needs depth in every frame")
    xyz = xyz.float()
    sums: torch.Tensor | None = None
    counts = torch.zeros(xyz.shape[0], dtype=torch.long, device=xyz.device)
    frames = capture.frames[:: config.frame_stride]
    for frame in tqdm(frames, desc="back-project", unit="frame", disable=not config.show_progress):
        pyramid = capture_features.pyramid(frame.name)
        depth = torch.from_numpy(load_depth(frame)).to(xyz.device)
        seen = visible_mask(xyz, frame.camera_to_world, frame.intrinsics, depth, config.depth_tolerance_m,
                            config.depth_tolerance_rel)
        index = torch.nonzero(seen).squeeze(1)
        if sums is None:
            sums = xyz.new_zeros(xyz.shape[0], pyramid.embedding_dim)
        if index.numel() == 0:
            continue
        # the pyramid was computed on the RGB image: project at the pyramid's own resolution
        intrinsics = frame.intrinsics.scaled(pyramid.image_width, pyramid.image_height)
        proj = project(xyz[index], frame.camera_to_world, intrinsics)
        levels = _levels_for(pyramid, proj.depth, intrinsics.fy, level, world_scale)
        sampled = sample_pyramid(pyramid.to(xyz.device), proj.pixels, levels)  # (n, D)
        sums.index_add_(0, index, sampled)
        counts[index] += 1
    if sums is None:
        raise ValueError(f"capture {capture.root} has no frames")
    # normalising the sum equals normalising the mean; never-seen points stay exactly zero
    return F.normalize(sums, dim=-1, eps=NORM_EPS), counts


def backproject_pyramid(
    capture: Capture,
    capture_features: CaptureFeatures,
    points: PointSet,
    level: float | None = None,
    world_scale: float | None = None,
    config: BackprojectionConfig = BackprojectionConfig(),
    device: torch.device | str = "cpu",
) -> FeaturePoints:
    """ConceptFusion-style features of a fused point set (see :func:`backproject_embeddings`);
    points no frame sees get a zero feature (``FeaturePoints.observed`` is False there)."""
    xyz, rgb = _point_tensors(points, device)
    features, _ = backproject_embeddings(capture, capture_features, xyz, level, world_scale, config)
    scale = f"level{level:g}" if level is not None else f"{world_scale:g}m"
    source = f"backproject:{capture_features.image_text_encoder}@{scale}"
    return FeaturePoints(xyz, rgb, features, source=source)


def _point_tensors(points: PointSet, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3) float32 xyz and rgb of a PointSet on ``device``."""
    xyz = torch.as_tensor(np.asarray(points.xyz, np.float32), device=device)
    rgb = torch.as_tensor(np.asarray(points.rgb, np.float32), device=device)
    return xyz, rgb


class PyramidBackprojector:
    """:class:`PointEmbedder` over a capture's crop pyramids (see :func:`backproject_pyramid`)."""

    def __init__(
        self,
        capture: Capture,
        capture_features: CaptureFeatures,
        config: BackprojectionConfig = BackprojectionConfig(),
    ) -> None:
        self.capture = capture
        self.capture_features = capture_features
        self.config = config
        self.name = f"backproject:{capture_features.image_text_encoder}"

    def embed_points(self, xyz: Float[torch.Tensor, "N 3"], scale: float) -> Float[torch.Tensor, "N D"]:
        features, _ = backproject_embeddings(
            self.capture, self.capture_features, xyz, world_scale=scale, config=self.config
        )
        return features


class FieldClipEmbedder:
    """:class:`PointEmbedder` over a trained language field whose ``embed_points(xyz, scale)``
    returns ``(clip, dino)`` (``lerf3d.field.model.LerfField``): keeps the CLIP part, the one that
    lives in the text encoder's space."""

    def __init__(self, field: object, name: str = "field") -> None:
        if not callable(getattr(field, "embed_points", None)):
            raise TypeError(f"{type(field).__name__} has no embed_points(xyz, scale) method")
        self.field = field
        self.name = name

    def embed_points(self, xyz: Float[torch.Tensor, "N 3"], scale: float) -> Float[torch.Tensor, "N D"]:
        out = self.field.embed_points(xyz, scale)
        clip = out[0] if isinstance(out, tuple) else out
        return F.normalize(clip.float(), dim=-1, eps=NORM_EPS)


def lift_features(
    points: PointSet,
    embedder: PointEmbedder,
    world_scale: float = DEFAULT_WORLD_SCALE_M,
    chunk_size: int = 65536,
    device: torch.device | str = "cpu",
) -> FeaturePoints:
    """A :class:`FeaturePoints` from any :class:`PointEmbedder`, in chunks of ``chunk_size`` points
    (bounded memory for a field's MLPs; back-projection is cheaper in one chunk: pass a large one)."""
    if not isinstance(embedder, PointEmbedder):
        raise TypeError(f"{type(embedder).__name__} does not implement embed_points(xyz, scale)")
    if not world_scale > 0:
        raise ValueError(f"world_scale must be > 0 metres, got {world_scale}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    xyz, rgb = _point_tensors(points, device)
    chunks = [embedder.embed_points(xyz[i : i + chunk_size], world_scale).float()
              for i in range(0, xyz.shape[0], chunk_size)]
    features = torch.cat(chunks) if chunks else xyz.new_zeros(0, 0)
    name = getattr(embedder, "name", type(embedder).__name__)
    return FeaturePoints(xyz, rgb, features, source=f"{name}@{world_scale:g}m")
