"""Rays of a capture, precomputed once, and random training batches with their language targets.

Frames are split into training and held-out frames (every n-th frame held out, nerfstudio's
"interval" split; captures of fewer than 4 frames hold none out); every ray of the training frames is computed up front (origins, directions,
pixel, colour, measured depth), and a batch is a uniform draw over all of them, so every image
contributes in proportion to its pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from jaxtyping import Float, Int, UInt8

from lerf3d.capture.io import load_depth, load_rgb, resize_depth_nearest
from lerf3d.features.extractor import CaptureFeatures
from lerf3d.field.rays import RayBundle, clip_to_box, grid_rays
from lerf3d.train.targets import StackedFeatures, random_levels, sample_targets, scale_per_depth
from lerf3d.types import Capture, Frame, Intrinsics, SceneBounds

DEFAULT_RAYS_PER_BATCH = 4096
"""nerfacto's train_num_rays_per_batch."""
DEFAULT_EVAL_EVERY = 8
"""Hold out every 8th frame (the LLFF / mip-NeRF 360 convention)."""
MIN_FRAMES_TO_HOLD_OUT = 4
"""Smaller captures hold no frame out: holding one of 2 or 3 views out leaves a field trained on 1-2
views (no multi-view constraint at all with one), and its score on the held-out view says little.
From 4 frames every ``eval_every`` >= 2 leaves at least 2 training views."""
MIN_NEAR = 0.05
"""Rays start at least this far from the camera (m): closer than any depth sensor measures."""


@dataclass(frozen=True)
class DataManagerConfig:
    """How rays are split, stored and drawn."""

    rays_per_batch: int = DEFAULT_RAYS_PER_BATCH
    """Rays per training step, drawn uniformly over all training pixels."""
    eval_every: int = DEFAULT_EVAL_EVERY
    """Hold out frames i with i % eval_every == 0 for evaluation; 0 holds out none (eval on train frames)."""
    min_near: float = MIN_NEAR
    """Smallest ray start distance (m)."""
    targets: Literal["stacked", "reference"] = "stacked"
    """Language-target sampler: "stacked" (one pass per level over all images; needs one image size)
    or "reference" (``sample_pyramid`` per image)."""

    def __post_init__(self) -> None:
        if self.targets not in ("stacked", "reference"):
            raise ValueError(f"targets must be 'stacked' or 'reference', got {self.targets!r}")
        if self.rays_per_batch < 1:
            raise ValueError(f"rays_per_batch must be >= 1, got {self.rays_per_batch}")
        if self.eval_every < 0 or self.eval_every == 1:
            raise ValueError(f"eval_every must be 0 (no hold-out) or >= 2, got {self.eval_every}")
        if not self.min_near > 0:
            raise ValueError(f"min_near must be positive metres, got {self.min_near}")


@dataclass(frozen=True, eq=False)
class TrainBatch:
    """One training batch: rays and what each ray should render."""

    rays: RayBundle
    """Rays with measured depth, ``clip_scale_per_depth`` and training-image indices."""
    rgb: Float[torch.Tensor, "R 3"]
    """Target colour in [0, 1]."""
    pixels: Float[torch.Tensor, "R 2"]
    """(x, y) pixel centres in the source image."""
    levels: Float[torch.Tensor, "R"]
    """Continuous pyramid level of each ray's CLIP target."""
    clip_scale: Float[torch.Tensor, "R"]
    """Physical scale (m) of the CLIP target at the measured depth: tile fraction x H x depth / f_y
    (0 where depth is missing; the field uses the per-sample depth, see ``rays.clip_scale_per_depth``)."""
    clip_target: Float[torch.Tensor, "R C"] | None
    """Unit CLIP embedding blended from the two neighbouring pyramid levels; None without features."""
    dino_target: Float[torch.Tensor, "R D"] | None
    """DINO feature; None without DINO maps."""


@dataclass(frozen=True, eq=False)
class EvalView:
    """A whole held-out image: its rays (row-major) and ground truth."""

    name: str
    """Frame name."""
    rays: RayBundle
    """One ray per pixel, near/far clipped to the scene box, with measured depth."""
    rgb: Float[torch.Tensor, "H W 3"]
    """Ground-truth colour in [0, 1]."""
    depth: Float[torch.Tensor, "H W"]
    """Measured z-depth (m), 0 where missing."""


def split_frames(num_frames: int, eval_every: int) -> tuple[list[int], list[int]]:
    """Training and held-out frame indices (every ``eval_every``-th frame held out; 0: none).

    Captures of fewer than :data:`MIN_FRAMES_TO_HOLD_OUT` frames hold none out (see there). A single
    frame with a hold-out asked for is refused: one view cannot be both trained on and held out,
    and training a 3D field on one view is more often a wrong folder or stride than a choice.
    """
    if num_frames < 1:
        raise ValueError("a capture needs at least one frame to train on")
    if eval_every and num_frames == 1:
        raise ValueError(
            f"the capture has 1 frame: eval_every={eval_every} would hold it out and leave nothing to train on; "
            "train on it anyway with --set data.eval_every=0 (the evaluation then scores that training frame)"
        )
    if num_frames < MIN_FRAMES_TO_HOLD_OUT:
        return list(range(num_frames)), []
    held = [i for i in range(num_frames) if eval_every and i % eval_every == 0]
    train = [i for i in range(num_frames) if i not in held]
    return train, held


def describe_split(num_frames: int, eval_every: int) -> str:
    """What an evaluation of this split scores, e.g. "held-out (3 frames)" or, with nothing held out,
    "training frames (2; none held out: ...)", so no report calls a training frame held out."""
    train, held = split_frames(num_frames, eval_every)
    if held:
        return f"held-out ({len(held)} frames)"
    if eval_every:
        reason = f"captures of fewer than {MIN_FRAMES_TO_HOLD_OUT} frames hold none out"
    else:
        reason = "eval_every=0"
    return f"training frames ({len(train)}; none held out: {reason})"


def frame_pixels(frame: Frame) -> tuple[UInt8[np.ndarray, "H W 3"], Float[np.ndarray, "H W"]]:
    """The frame's colour and its depth resampled onto the colour grid (0 where missing)."""
    rgb = load_rgb(frame)
    height, width = rgb.shape[:2]
    if frame.depth_path is None:
        return rgb, np.zeros((height, width), np.float32)
    depth = load_depth(frame)
    if depth.shape != (height, width):
        depth = resize_depth_nearest(depth, width, height)
    return rgb, depth


def _frame_rays(
    intrinsics: Intrinsics, pose: np.ndarray, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Origins, directions, z_scale and integer (column, row) pixels of a frame, row-major."""
    return grid_rays(intrinsics, torch.tensor(pose, dtype=torch.float32), height, width)


class DataManager:
    """Precomputed rays of the training frames and random batches of them.

    ``features`` may be None (radiance-only training). Tensors live on ``device``; the batch
    generator stays on the CPU so its state, and with it a resumed run, is device independent.
    """

    def __init__(
        self,
        config: DataManagerConfig,
        capture: Capture,
        bounds: SceneBounds,
        box_margin: float,
        features: CaptureFeatures | None,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        self.config = config
        self.capture = capture
        self.device = torch.device(device)
        self.lower = torch.as_tensor(bounds.lower, dtype=torch.float32) - box_margin
        self.upper = torch.as_tensor(bounds.upper, dtype=torch.float32) + box_margin
        self.train_indices, self.eval_indices = split_frames(len(capture.frames), config.eval_every)
        self.generator = torch.Generator().manual_seed(seed)
        self._load_train_rays()
        self.pyramids = self.dino_maps = None
        self.stacked: StackedFeatures | None = None
        if features is not None:
            self._load_features(features)

    @property
    def train_frames(self) -> list[Frame]:
        return [self.capture.frames[i] for i in self.train_indices]

    @property
    def eval_frames(self) -> list[Frame]:
        """Held-out frames; the training frames when nothing is held out."""
        indices = self.eval_indices or self.train_indices
        return [self.capture.frames[i] for i in indices]

    @property
    def num_rays(self) -> int:
        return int(self.rgb.shape[0])

    def _load_train_rays(self) -> None:
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("o", "d", "z", "px", "rgb", "depth", "img", "fy")}
        self.image_heights = []
        for image, frame in enumerate(self.train_frames):
            rgb, depth = frame_pixels(frame)
            height, width = depth.shape
            intrinsics = frame.intrinsics.scaled(width, height)
            origins, directions, z_scale, pixels = _frame_rays(intrinsics, frame.camera_to_world, height, width)
            parts["o"].append(origins)
            parts["d"].append(directions)
            parts["z"].append(z_scale)
            parts["px"].append(pixels.to(torch.int32))
            parts["rgb"].append(torch.from_numpy(rgb).reshape(-1, 3))  # (H*W, 3) uint8
            parts["depth"].append(torch.from_numpy(depth).reshape(-1))  # (H*W,)
            parts["img"].append(torch.full((len(pixels),), image, dtype=torch.int64))
            parts["fy"].append(torch.tensor([intrinsics.fy]))
            self.image_heights.append(height)
        dev = self.device
        self.origins: Float[torch.Tensor, "N 3"] = torch.cat(parts["o"]).to(dev)
        self.directions: Float[torch.Tensor, "N 3"] = torch.cat(parts["d"]).to(dev)
        self.z_scale: Float[torch.Tensor, "N"] = torch.cat(parts["z"]).to(dev)
        self.pixels: Int[torch.Tensor, "N 2"] = torch.cat(parts["px"]).to(dev)
        self.rgb: UInt8[torch.Tensor, "N 3"] = torch.cat(parts["rgb"]).to(dev)
        self.depth: Float[torch.Tensor, "N"] = torch.cat(parts["depth"]).to(dev)
        self.images: Int[torch.Tensor, "N"] = torch.cat(parts["img"]).to(dev)
        self.fy: Float[torch.Tensor, "T"] = torch.cat(parts["fy"]).to(dev)

    def _load_features(self, features: CaptureFeatures) -> None:
        frames = self.train_frames
        self.pyramids = [features.pyramid(f.name).to(self.device) for f in frames]
        first = self.pyramids[0]
        for frame, pyramid, height in zip(frames, self.pyramids, self.image_heights):
            if pyramid.tile_fractions != first.tile_fractions:
                raise ValueError(f"frame {frame.name}: its pyramid has other levels than frame {frames[0].name}'s")
            if pyramid.image_height != height:
                raise ValueError(
                    f"frame {frame.name}: features were computed at height {pyramid.image_height}, "
                    f"the image has {height} rows (stale feature cache?)"
                )
        if features.dense_encoder is not None:
            self.dino_maps = [features.dino(f.name).to(self.device) for f in frames]
        if self.config.targets == "stacked":
            self.stacked = StackedFeatures.build(self.pyramids, self.dino_maps)

    @property
    def clip_dim(self) -> int | None:
        return self.pyramids[0].embedding_dim if self.pyramids else None

    @property
    def dino_dim(self) -> int | None:
        return self.dino_maps[0].feature_dim if self.dino_maps else None

    def next_train(self) -> TrainBatch:
        """A batch of ``rays_per_batch`` rays drawn uniformly (with replacement) over training pixels."""
        count = self.config.rays_per_batch
        index = torch.randint(self.num_rays, (count,), generator=self.generator).to(self.device)
        images = self.images[index]
        pixels = self.pixels[index].float() + 0.5  # (x, y) pixel centres
        depth = self.depth[index]
        clip_target = dino_target = per_depth = None
        levels = torch.zeros(count, device=self.device)
        if self.pyramids is not None:
            levels = random_levels(count, self.pyramids[0].num_levels, self.generator).to(self.device)
            heights = self.pyramids[0].image_height
            per_depth = scale_per_depth(levels, self.pyramids[0].tile_fractions, heights, self.fy[images])
            if self.stacked is not None:
                clip_target, dino_target = self.stacked.sample(images, pixels, levels)
            else:
                clip_target, dino_target = sample_targets(images, pixels, levels, self.pyramids, self.dino_maps)
        rays = RayBundle(
            origins=self.origins[index],
            directions=self.directions[index],
            z_scale=self.z_scale[index],
            near=torch.zeros_like(depth),
            far=torch.zeros_like(depth),
            depth=depth,
            clip_scale_per_depth=per_depth,
            camera_indices=images,
        )
        rays = clip_to_box(rays, self.lower.to(self.device), self.upper.to(self.device), self.config.min_near)
        clip_scale = per_depth * depth if per_depth is not None else torch.zeros_like(depth)
        rgb = self.rgb[index].float() / 255.0
        return TrainBatch(rays, rgb, pixels, levels, clip_scale, clip_target, dino_target)

    def eval_view(self, frame: Frame, guide_with_depth: bool = False) -> EvalView:
        """All rays of ``frame`` (no camera index: novel views use the mean appearance code).

        Without ``guide_with_depth`` the rays carry no depth, so samples follow the occupancy grid as
        at a novel view; with it they are placed around the frame's measured depth as in training.
        """
        rgb, depth = frame_pixels(frame)
        height, width = depth.shape
        intrinsics = frame.intrinsics.scaled(width, height)
        origins, directions, z_scale, _ = _frame_rays(intrinsics, frame.camera_to_world, height, width)
        measured = torch.from_numpy(depth)
        zeros = torch.zeros_like(z_scale)
        guide = measured.reshape(-1) if guide_with_depth else None  # (H*W,)
        rays = RayBundle(origins, directions, z_scale, zeros, zeros, depth=guide)
        rays = clip_to_box(rays, self.lower, self.upper, self.config.min_near)
        rays = replace(rays, **{k: v.to(self.device) for k, v in vars(rays).items() if v is not None})
        return EvalView(frame.name, rays, torch.from_numpy(rgb).float() / 255.0, measured)
