"""Scene tokens for the LLM: hybrid point-voxel pooling of a feature point set (Scene-LLM, sec. 3).

Points are averaged per occupied voxel (a fixed resolution keeps small objects), then the voxel count
is capped by farthest-point sampling or by coarsening the grid. Two frames of the same data:
**scene** tokens in world coordinates and **egocentric** tokens in one camera's OpenCV frame
(see ``lerf3d.types``). All functions are pure and vectorised except FPS, which is sequential by
nature (one cheap vector update per chosen token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from jaxtyping import Float, Int

from lerf3d.geometry import frustum_mask, to_camera_frame
from lerf3d.objects.pooling import scatter_mean
from lerf3d.types import Intrinsics

TokenFrame = Literal["scene", "ego"]
Downsample = Literal["fps", "grid"]

XYZ_NORMALISATION_M = 5.0
"""Metres mapped to 1 in the projector input. Our choice, not a paper's: half the span of a large
room (ScanNet rooms are mostly under 10 m across), so coordinates stay in about [-1, 1] while keeping
metric distances comparable between scenes (no per-scene rescaling)."""

WALL_COUNT = 4
"""The scene bounds' four sides a token's wall gaps measure to: west, east, south, north."""

GRID_GROWTH_MIN = 1.1
"""Smallest factor the voxel size grows by per grid-downsampling round, so the loop always ends."""

MAX_GRID_ROUNDS = 64
"""Safety bound on grid-downsampling rounds; 1.1**64 > 400, far beyond any real coarsening."""


@dataclass(frozen=True)
class PoolingConfig:
    """How a point set becomes at most ``max_tokens`` tokens."""

    voxel_size: float = 0.1
    """Edge of the pooling voxels, in metres (world or camera units). Our default: fine enough for a
    cup, coarse enough that a room gives a few thousand voxels."""
    max_tokens: int = 1024
    """Upper bound on the token count, i.e. on the sequence length the scene adds to the prompt."""
    downsample: Downsample = "fps"
    """How to cap the count: "fps" keeps the farthest-point subset of the voxels (even coverage,
    keeps outliers such as thin objects); "grid" coarsens the voxel size until the count fits
    (every point still contributes)."""

    def __post_init__(self) -> None:
        if not self.voxel_size > 0:
            raise ValueError(f"voxel_size must be > 0, got {self.voxel_size}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.downsample not in ("fps", "grid"):
            raise ValueError(f"downsample must be 'fps' or 'grid', got {self.downsample!r}")


@dataclass(frozen=True)
class TokenEncoding:
    """What the projector reads of each token besides its language feature (``projector_input``)."""

    xyz_scale: float = XYZ_NORMALISATION_M
    """Metres mapped to 1 for the metric coordinates (centred on the scene, see ``projector_input``)."""
    room_relative: bool = False
    """Add the centroid relative to the scene bounds, in [-1, 1] per axis: -1 is the west/south wall
    or the floor. Which quarter, which wall is nearest, are signs and magnitudes of these."""
    fourier_bands: int = 0
    """Add sin/cos(2^k pi r), k < bands, of those relative coordinates (NeRF's positional encoding,
    Mildenhall et al. 2020, sec. 5.1): lets a small MLP express "near x" as well as "large x"."""
    extents: bool = False
    """Add each token's lower and upper corner (metric, scene-centred): heights, tops, footprints."""
    include_rgb: bool = True
    """Add the mean colour in [-1, 1]."""
    confidence: bool = False
    """Add each object token's confidence (mean cosine of its points to its feature), in [-1, 1]:
    how much one thing the token is, a fused blob of two pieces reading low."""
    wall_gaps: bool = False
    """Add the gaps from each token's box to the west, east, south and north sides of the scene
    bounds (metres / ``xyz_scale``; 0 where it touches one), last of all; negative for tokens with no
    walls (egocentric tokens, a scene without bounds). What ``SceneLLMConfig.wall_links`` reads."""

    def __post_init__(self) -> None:
        if not self.xyz_scale > 0 or self.fourier_bands < 0:
            raise ValueError(f"xyz_scale must be > 0 and fourier_bands >= 0: {self}")

    def relative_columns(self, feature_dim: int) -> slice:
        """Where ``SceneTokens.projector_input`` puts the room-relative coordinates (features, then
        metric xyz, then these); ValueError without ``room_relative``."""
        if not self.room_relative:
            raise ValueError("this encoding carries no room-relative coordinates (room_relative=False)")
        return slice(feature_dim + 3, feature_dim + 6)

    def corner_columns(self, feature_dim: int) -> tuple[slice, slice]:
        """Where ``SceneTokens.projector_input`` puts each token's lower and upper corner (metric,
        scene-centred, divided by ``xyz_scale``); ValueError without ``extents``."""
        if not self.extents:
            raise ValueError("this encoding carries no token corners (extents=False)")
        start = feature_dim + 3 + (3 if self.room_relative else 0) + 6 * self.fourier_bands
        return slice(start, start + 3), slice(start + 3, start + 6)

    def wall_gap_columns(self, feature_dim: int) -> slice:
        """Where ``SceneTokens.projector_input`` puts the four wall gaps (the last columns); ValueError
        without ``wall_gaps``."""
        if not self.wall_gaps:
            raise ValueError("this encoding carries no wall gaps (wall_gaps=False)")
        end = self.input_dim(feature_dim)
        return slice(end - WALL_COUNT, end)

    def input_dim(self, feature_dim: int) -> int:
        """d_in of ``SceneTokens.projector_input`` for features of width ``feature_dim``."""
        return (feature_dim + 3 + (3 if self.room_relative else 0) + 6 * self.fourier_bands
                + (6 if self.extents else 0) + (3 if self.include_rgb else 0) + (1 if self.confidence else 0)
                + (WALL_COUNT if self.wall_gaps else 0))


@dataclass(frozen=True, eq=False)
class SceneTokens:
    """Pooled 3D feature tokens of a scene or of one camera frame."""

    xyz: Float[torch.Tensor, "T 3"]
    """Token centroids: world coordinates ("scene") or OpenCV camera coordinates ("ego"), metres."""
    features: Float[torch.Tensor, "T F"]
    """Mean language feature of the points in each token (voxel tokens: not re-normalised)."""
    rgb: Float[torch.Tensor, "T 3"] | None
    """Mean colour in [0, 1], or None when the points had no colour."""
    frame: TokenFrame
    """Coordinate frame of ``xyz``."""
    lower: Float[torch.Tensor, "T 3"] | None = None
    """Per-token minimum corner of its points (object tokens), same frame as ``xyz``."""
    upper: Float[torch.Tensor, "T 3"] | None = None
    """Per-token maximum corner."""
    bounds: Float[torch.Tensor, "2 3"] | None = None
    """(lower, upper) corners of the whole scene the tokens sit in (the room, shell included); None:
    the tokens' own box."""
    confidence: Float[torch.Tensor, " T"] | None = None
    """Per object token: mean cosine of its points' features to the token's feature, in [0, 1]."""

    def __post_init__(self) -> None:
        if self.frame not in ("scene", "ego"):
            raise ValueError(f"frame must be 'scene' or 'ego', got {self.frame!r}")
        num = self.xyz.shape[0]
        if self.xyz.ndim != 2 or self.xyz.shape[1] != 3:
            raise ValueError(f"xyz must be (T, 3), got {tuple(self.xyz.shape)}")
        if self.features.ndim != 2 or self.features.shape[0] != num:
            raise ValueError(f"features must be ({num}, F), got {tuple(self.features.shape)}")
        for name in ("rgb", "lower", "upper"):
            value = getattr(self, name)
            if value is not None and tuple(value.shape) != (num, 3):
                raise ValueError(f"{name} must be ({num}, 3), got {tuple(value.shape)}")
        if (self.lower is None) != (self.upper is None):
            raise ValueError("give both lower and upper corners, or neither")
        if self.bounds is not None and tuple(self.bounds.shape) != (2, 3):
            raise ValueError(f"bounds must be (2, 3), got {tuple(self.bounds.shape)}")
        if self.confidence is not None and tuple(self.confidence.shape) != (num,):
            raise ValueError(f"confidence must be ({num},), got {tuple(self.confidence.shape)}")

    def select(self, index: Int[torch.Tensor, " K"]) -> SceneTokens:
        """The tokens at ``index`` (a subset or a reordering), in the same frame and scene bounds."""

        def pick(value):
            return None if value is None else value[index]

        return SceneTokens(self.xyz[index], self.features[index], pick(self.rgb), self.frame,
                           lower=pick(self.lower), upper=pick(self.upper), bounds=self.bounds,
                           confidence=pick(self.confidence))

    @property
    def num_tokens(self) -> int:
        return self.xyz.shape[0]

    def centre(self) -> Float[torch.Tensor, " 3"]:
        """Origin of the projector's coordinates: for scene tokens the middle of ``bounds`` (else of
        the tokens' own box), so "the middle of the room" is 0; for egocentric tokens the camera,
        which is what makes them egocentric."""
        if self.frame == "ego" or (self.num_tokens == 0 and self.bounds is None):
            return self.xyz.new_zeros(3)
        box = self.bounds if self.bounds is not None else torch.stack([self.xyz.amin(0), self.xyz.amax(0)])
        return box.to(self.xyz.dtype).mean(0)

    def projector_input(
        self, xyz_scale: float = XYZ_NORMALISATION_M, include_rgb: bool = True,
        encoding: TokenEncoding | None = None,
    ) -> Float[torch.Tensor, "T d_in"]:
        """[features, centred xyz / scale, (room-relative xyz), (its Fourier features), (corners),
        (rgb in [-1, 1])]: ``encoding.input_dim(F)`` values per token. Without ``encoding``:
        features, xyz and (``include_rgb``) colour."""
        enc = encoding or TokenEncoding(xyz_scale=xyz_scale, include_rgb=include_rgb)
        dtype = self.features.dtype
        centre = self.centre()
        metric = (self.xyz - centre).to(dtype) / enc.xyz_scale  # (T, 3)
        parts = [self.features, metric]
        if enc.room_relative or enc.fourier_bands:
            relative = metric  # egocentric tokens, or no bounds: metric coordinates stand in
            if self.frame == "scene" and self.bounds is not None:
                half = ((self.bounds[1] - self.bounds[0]) / 2).clamp_min(1e-6).to(dtype)
                relative = (self.xyz - centre).to(dtype) / half
            if enc.room_relative:
                parts.append(relative)
            if enc.fourier_bands:
                parts.append(fourier_features(relative, enc.fourier_bands))
        if enc.extents:
            lower = self.xyz if self.lower is None else self.lower
            upper = self.xyz if self.upper is None else self.upper
            parts += [(lower - centre).to(dtype) / enc.xyz_scale, (upper - centre).to(dtype) / enc.xyz_scale]
        if enc.include_rgb:
            if self.rgb is None:
                raise ValueError("include_rgb=True but these tokens carry no rgb")
            parts.append(self.rgb.to(dtype) * 2 - 1)
        if enc.confidence:
            if self.confidence is None:
                raise ValueError("encoding.confidence=True but these tokens carry no confidence (voxel tokens?)")
            parts.append(self.confidence.to(dtype)[:, None] * 2 - 1)
        if enc.wall_gaps:
            parts.append(self.wall_gaps().to(dtype) / enc.xyz_scale)
        return torch.cat(parts, dim=-1)

    def wall_gaps(self) -> Float[torch.Tensor, "T 4"]:
        """Metres from each token's box (its centroid when it has no corners) to the west, east, south
        and north sides of ``bounds``, 0 where it touches or crosses one; -1 everywhere for tokens
        with no walls (egocentric tokens, or no bounds)."""
        if self.frame != "scene" or self.bounds is None:
            return self.xyz.new_full((self.num_tokens, WALL_COUNT), -1.0)
        lower = self.xyz if self.lower is None else self.lower
        upper = self.xyz if self.upper is None else self.upper
        room = self.bounds.to(lower.dtype)
        gaps = torch.stack([lower[:, 0] - room[0, 0], room[1, 0] - upper[:, 0],
                            lower[:, 1] - room[0, 1], room[1, 1] - upper[:, 1]], dim=1)
        return gaps.clamp_min(0.0)


def fourier_features(x: Float[torch.Tensor, "T C"], bands: int) -> Float[torch.Tensor, "T K2C"]:
    """[sin(2^k pi x), cos(2^k pi x)] for k < ``bands``: (T, 2 * bands * C)."""
    scales = (2.0 ** torch.arange(bands, dtype=x.dtype, device=x.device)) * torch.pi  # (K,)
    angles = (x[:, None, :] * scales[:, None]).flatten(1)  # (T, K * C)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def projector_input_dim(feature_dim: int, include_rgb: bool = True) -> int:
    """d_in of ``SceneTokens.projector_input`` without an encoding: feature dim + xyz (+ rgb)."""
    return TokenEncoding(include_rgb=include_rgb).input_dim(feature_dim)


def voxel_ids(
    xyz: Float[torch.Tensor, "N 3"], voxel_size: float
) -> tuple[Int[torch.Tensor, " N"], int]:
    """Dense voxel id of every point (ids 0..V-1 ordered by x, then y, then z cell) and V.

    The grid is anchored at the points' minimum corner so that a large enough voxel holds
    everything in one cell (needed for grid downsampling to reach any cap).
    """
    cells = torch.floor((xyz - xyz.amin(0)) / voxel_size).long()  # (N, 3), all >= 0
    extent = cells.amax(0) + 1
    if math.prod(extent.tolist()) >= 2**62:
        raise ValueError(f"voxel grid {extent.tolist()} too large for voxel_size={voxel_size}")
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]  # (N,)
    unique_keys, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    return inverse, unique_keys.shape[0]


def voxel_pool(
    xyz: Float[torch.Tensor, "N 3"],
    features: Float[torch.Tensor, "N F"],
    rgb: Float[torch.Tensor, "N 3"] | None,
    voxel_size: float,
    frame: TokenFrame,
) -> SceneTokens:
    """One token per occupied voxel: the mean xyz, feature and colour of its points."""
    if xyz.shape[0] != features.shape[0] or (rgb is not None and rgb.shape[0] != xyz.shape[0]):
        raise ValueError(f"xyz, features, rgb disagree on N: {xyz.shape[0]}, {features.shape[0]}, "
                         f"{None if rgb is None else rgb.shape[0]}")
    if xyz.shape[0] == 0:
        return SceneTokens(xyz, features, rgb, frame)
    index, num_voxels = voxel_ids(xyz, voxel_size)
    return SceneTokens(
        xyz=scatter_mean(xyz, index, num_voxels),
        features=scatter_mean(features, index, num_voxels),
        rgb=None if rgb is None else scatter_mean(rgb, index, num_voxels),
        frame=frame,
    )


def farthest_point_sampling(
    xyz: Float[torch.Tensor, "M 3"], num_samples: int
) -> Int[torch.Tensor, " K"]:
    """Indices of ``min(num_samples, M)`` points, each the farthest from those chosen before.

    Deterministic start: the point farthest from the centroid (an extreme point; independent of
    the input order up to ties), rather than a random one.
    """
    num_points = xyz.shape[0]
    count = min(num_samples, num_points)
    chosen = torch.empty(count, dtype=torch.long, device=xyz.device)
    if count == 0:
        return chosen
    # (3, M) layout: summing 3 contiguous rows is several times faster than a last-dim sum of 3
    points = xyz.T.to(torch.promote_types(xyz.dtype, torch.float32)).contiguous()  # (3, M)
    current = int((points - points.mean(1, keepdim=True)).square_().sum(0).argmax())
    min_dist = torch.full((num_points,), math.inf, dtype=points.dtype, device=xyz.device)
    for i in range(count):
        chosen[i] = current
        dist = (points - points[:, current : current + 1]).square_().sum(0)  # (M,)
        torch.minimum(min_dist, dist, out=min_dist)
        current = int(min_dist.argmax())
    return chosen


def pool_points(
    xyz: Float[torch.Tensor, "N 3"],
    features: Float[torch.Tensor, "N F"],
    rgb: Float[torch.Tensor, "N 3"] | None,
    cfg: PoolingConfig,
    frame: TokenFrame = "scene",
) -> SceneTokens:
    """Hybrid point-voxel pooling: voxel means at ``cfg.voxel_size``, capped at ``cfg.max_tokens``."""
    tokens = voxel_pool(xyz, features, rgb, cfg.voxel_size, frame)
    if tokens.num_tokens <= cfg.max_tokens:
        return tokens
    if cfg.downsample == "fps":
        keep = farthest_point_sampling(tokens.xyz, cfg.max_tokens)
        return SceneTokens(tokens.xyz[keep], tokens.features[keep],
                           None if tokens.rgb is None else tokens.rgb[keep], frame)
    voxel_size = cfg.voxel_size
    for _ in range(MAX_GRID_ROUNDS):
        # the count falls with the cube of the voxel size for a filled volume and the square for a
        # surface: growing by the cube root of the excess never overshoots the cap by much
        voxel_size *= max(GRID_GROWTH_MIN, (tokens.num_tokens / cfg.max_tokens) ** (1 / 3))
        tokens = voxel_pool(xyz, features, rgb, voxel_size, frame)
        if tokens.num_tokens <= cfg.max_tokens:
            return tokens
    raise RuntimeError(f"grid downsampling did not reach {cfg.max_tokens} tokens "
                       f"(still {tokens.num_tokens} at voxel_size={voxel_size:.3g})")


def egocentric_tokens(
    xyz: Float[torch.Tensor, "N 3"],
    features: Float[torch.Tensor, "N F"],
    rgb: Float[torch.Tensor, "N 3"] | None,
    camera_to_world: Float[torch.Tensor, "4 4"] | np.ndarray,
    cfg: PoolingConfig,
    intrinsics: Intrinsics | None = None,
    far: float | None = None,
) -> SceneTokens:
    """Tokens of what one camera sees, in its own frame; culled to its frustum when intrinsics given."""
    xyz_cam = to_camera_frame(xyz, camera_to_world)
    if intrinsics is not None:
        keep = frustum_mask(xyz_cam, intrinsics, far=far)
        xyz_cam, features = xyz_cam[keep], features[keep]
        rgb = None if rgb is None else rgb[keep]
    return pool_points(xyz_cam, features, rgb, cfg, frame="ego")
