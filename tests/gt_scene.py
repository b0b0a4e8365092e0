"""A scene with a known answer, without towers or a training run: a generated room whose field is
fitted straight to its capture (surface density and colour from the depth maps, language from the
instance masks), queried with a text encoder that gives every label a fixed random vector.

"armchair" then lights up exactly the pixels the room's masks call armchair, so the browser test can
check the overlay against ground truth, and the screenshot and benchmark have a scene that looks
like the room and costs what the tiny preset costs (the cost of a query depends on the field's size,
not on its weights). A real scene comes from ``lerf3d view CKPT``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float

from lerf3d.capture import load_capture
from lerf3d.capture.io import load_depth, load_rgb, resize_depth_nearest
from lerf3d.field import (
    HashGridConfig,
    LanguageFieldConfig,
    LerfField,
    LerfFieldConfig,
    RadianceFieldConfig,
    SamplerConfig,
)
from lerf3d.field.occupancy import OCCUPANCY_VOXEL, OccupancyGrid
from lerf3d.geometry import pixel_rays
from lerf3d.ground_truth import GroundTruth, load_ground_truth
from lerf3d.query.relevancy import CANONICAL_NEGATIVES
from lerf3d.query.scene import frame_camera
from lerf3d.query.session import QuerySession, QuerySessionConfig
from lerf3d.types import Capture, PointSet
from viewer.scene import VIEWER_CACHE_BYTES, ViewerScene, subsample_points

LABEL_EMBED_DIM = 64
"""Width of the label encoder's space: random unit vectors in 64-d are near-orthogonal (|cos| ~ 0.1)."""
SURFACE_DENSITY = 300.0
"""Density (1/m) the fit gives the measured surface: opaque within ~1 cm (300 x 0.01 = 3 optical depths)."""
LABEL_SHARE = 0.6
"""Weight of the shared direction in a label's vector (cosine ~0.26 between two labels)."""
GENERIC_SHARE = 3.0
"""Weight of the shared direction in a generic word's vector (cosine ~0.5 with any label)."""
EXACT_DEPTH_BAND = 0.02
"""Half-width (m, and fraction of range) of the depth-guided sampling band: the generated depth is
exact, so the band is narrower than a real sensor's (lerf3d.field.sampling defaults, 5 % / 3 cm);
it keeps the samples of a pixel beside an object off that object (sharp overlay edges)."""
DENSITY_LOSS_WEIGHT = 0.1
"""The log-density error starts near 30 (log(300)^2): a tenth keeps it on the scale of the colour
and cosine losses, so the language head is fitted from the first steps too."""
DENSITY_EPS = 1e-3
"""Added to a density (1/m) before its logarithm."""
FREE_SPACE_RANGE = (0.05, 0.9)
"""Free-space samples lie between these fractions of the measured depth along the pixel's ray."""


class LabelTextEncoder:
    """Phrases -> fixed unit vectors seeded by the lower-cased phrase: a label matches itself and
    nothing else (no synonyms). Text only: the fitted field never needs an image tower.

    Like CLIP's space, where "object" is somewhat similar to every object, each vector is a random
    part plus a shared "anything" direction, which LERF's generic negatives ("object", "things",
    ...) mostly consist of: another label's pixel is then closer to the negatives than to the
    query (relevancy well under 0.5), the label's own pixels are not (near 1).
    """

    def __init__(self, embedding_dim: int = LABEL_EMBED_DIM) -> None:
        self.name = f"labels:hash-{embedding_dim}"
        self.embedding_dim = embedding_dim
        self.input_size = 8
        self._anything = self._random("\x00anything")

    def _random(self, phrase: str) -> torch.Tensor:
        seed = int.from_bytes(hashlib.sha256(phrase.encode("utf-8")).digest()[:8], "little")
        generator = torch.Generator().manual_seed(seed)
        return F.normalize(torch.randn(self.embedding_dim, generator=generator), dim=0)

    def encode_text(self, phrases: list[str]) -> Float[torch.Tensor, "P D"]:
        rows = []
        for phrase in phrases:
            key = phrase.strip().lower()
            share = GENERIC_SHARE if key in CANONICAL_NEGATIVES else LABEL_SHARE
            rows.append(share * self._anything + self._random(key))
        return F.normalize(torch.stack(rows), dim=-1)

    def encode_image(self, images: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B D"]:
        raise NotImplementedError(f"{self.name} is a text-only encoder (the fitted field needs no images)")


@dataclass(frozen=True)
class FitConfig:
    """How the field is fitted to the capture."""

    steps: int = 300
    """Adam steps."""
    batch: int = 4096
    """Surface samples (and as many free-space samples) per step."""
    lr: float = 1e-2
    """Adam learning rate (the hash grids' usual rate)."""
    surface_jitter: float = 0.01
    """Std (m) of the offset along the ray applied to surface samples: a shell, not a sheet."""
    pixel_stride: int = 1
    """Use every n-th pixel in x and y."""
    seed: int = 0
    """Sampling and initialisation seed."""

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch < 1 or not self.lr > 0 or self.pixel_stride < 1:
            raise ValueError("need steps >= 0, batch >= 1, lr > 0 and pixel_stride >= 1")


@dataclass(frozen=True, eq=False)
class SurfaceSamples:
    """Back-projected pixels of a capture: where the surface is, its colour and its label."""

    xyz: Float[torch.Tensor, "N 3"]
    """Surface point (m)."""
    directions: Float[torch.Tensor, "N 3"]
    """Unit direction of the pixel's ray."""
    free: Float[torch.Tensor, "N 3"]
    """A point between the camera and the surface (empty space)."""
    rgb: Float[torch.Tensor, "N 3"]
    """Pixel colour in [0, 1]."""
    label: torch.Tensor
    """(N,) int64 index into ``labels``; -1 where the mask names nothing."""
    labels: tuple[str, ...]
    """Label vocabulary."""


def back_project(
    capture: Capture, ground_truth: GroundTruth, stride: int = 1, seed: int = 0
) -> SurfaceSamples:
    """Every (stride-th) pixel with depth of every frame, as a world point with colour and label."""
    generator = np.random.default_rng(seed)
    labels = tuple(sorted({o.label for o in ground_truth.objects}))
    label_of = {o.instance_id: labels.index(o.label) for o in ground_truth.objects}
    parts: dict[str, list[np.ndarray]] = {"xyz": [], "dirs": [], "free": [], "rgb": [], "label": []}
    for frame in capture.frames:
        k = frame.intrinsics
        depth = load_depth(frame)
        if depth.shape != (k.height, k.width):
            depth = resize_depth_nearest(depth, k.width, k.height)
        rows, cols = np.mgrid[0:k.height:stride, 0:k.width:stride]
        z = depth[rows, cols]
        valid = z > 0
        rows, cols, z = rows[valid], cols[valid], z[valid]
        cam = pixel_rays(k)[rows, cols]  # OpenCV camera directions with z = 1
        rotation, origin = frame.camera_to_world[:3, :3], frame.camera_to_world[:3, 3]
        world_dirs = cam @ rotation.T
        parts["xyz"].append(origin + world_dirs * z[:, None])
        free_depth = z * generator.uniform(*FREE_SPACE_RANGE, len(z))
        parts["free"].append(origin + world_dirs * free_depth[:, None])
        parts["dirs"].append(world_dirs / np.linalg.norm(world_dirs, axis=-1, keepdims=True))
        parts["rgb"].append(load_rgb(frame)[rows, cols].astype(np.float32) / 255)
        mask = ground_truth.load_mask(frame.name)
        if mask.shape != (k.height, k.width):
            raise ValueError(f"mask of {frame.name} is {mask.shape}, the image {(k.height, k.width)}")
        parts["label"].append(np.array([label_of.get(int(i), -1) for i in mask[rows, cols]], np.int64))
    cat = {key: np.concatenate(value) for key, value in parts.items()}
    as_float = {key: torch.as_tensor(cat[key], dtype=torch.float32) for key in ("xyz", "dirs", "free", "rgb")}
    return SurfaceSamples(as_float["xyz"], as_float["dirs"], as_float["free"], as_float["rgb"],
                          torch.as_tensor(cat["label"]), labels)


def fit_field(
    model: LerfField, samples: SurfaceSamples, encoder: LabelTextEncoder, config: FitConfig = FitConfig()
) -> LerfField:
    """Fit density (high on the surface shell, zero in front of it), colour (the pixel's, seen along
    its ray) and the CLIP head (the embedding of the pixel's label, at every scale)."""
    if model.language is None:
        raise ValueError("the field needs a language field")
    targets = encoder.encode_text(list(samples.labels))  # (L, D)
    generator = torch.Generator().manual_seed(config.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    n = len(samples.xyz)
    log_surface = math.log(SURFACE_DENSITY)
    model.train()
    for _ in range(config.steps):
        index = torch.randint(0, n, (config.batch,), generator=generator)
        offset = config.surface_jitter * torch.randn(config.batch, 1, generator=generator)
        surface = samples.xyz[index] + offset * samples.directions[index]
        coords, _ = model.grid_coords(torch.cat([surface, samples.free[index]]))
        sigma, geo = model.radiance.density(coords)
        sigma_surface, sigma_free = sigma[: config.batch], sigma[config.batch :]
        too_thin = (torch.log(sigma_surface + DENSITY_EPS) - log_surface).clamp(max=0)  # only below target
        density_loss = too_thin.square().mean() + torch.log1p(sigma_free).mean()
        rgb = model.radiance.color(geo[: config.batch], samples.directions[index])
        colour_loss = F.mse_loss(rgb, samples.rgb[index])
        labelled = samples.label[index] >= 0
        scales = 1.5 * torch.rand(int(labelled.sum()), generator=generator)
        features = model.language.encode(coords[: config.batch][labelled])
        embeds = model.language.clip(features, scales)
        language_loss = (1 - (embeds * targets[samples.label[index][labelled]]).sum(-1)).mean()
        loss = DENSITY_LOSS_WEIGHT * density_loss + colour_loss + language_loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def exact_depth_sampler(sampler: SamplerConfig) -> SamplerConfig:
    """``sampler`` with the narrow band exact depth allows (same sample counts: same cost)."""
    return replace(sampler, band_fraction=EXACT_DEPTH_BAND, min_band=EXACT_DEPTH_BAND)


def tiny_field_config(clip_dim: int) -> LerfFieldConfig:
    """The tiny training preset's field (configs/tiny.toml) at ``clip_dim``: what ``lerf3d demo
    --preset tiny`` trains, so renders and queries cost what they cost there."""
    from lerf3d.train import load_preset

    config = load_preset("tiny").field
    assert config.language is not None
    return replace(config, language=replace(config.language, clip_dim=clip_dim),
                   sampler=exact_depth_sampler(config.sampler))


def compact_field_config(clip_dim: int) -> LerfFieldConfig:
    """A field that fits in seconds on one core (tests): coarse radiance, a finer language grid
    (object borders are what a query is judged on), 16 samples per ray."""
    radiance = RadianceFieldConfig(
        grid=HashGridConfig(num_levels=6, features_per_level=2, log2_table_size=14, base_resolution=8,
                            max_resolution=128),
        density_hidden_dim=32, color_hidden_dim=32, geo_feature_dim=7,
    )
    language = LanguageFieldConfig(
        grids=(HashGridConfig(num_levels=6, features_per_level=4, log2_table_size=16, base_resolution=16,
                              max_resolution=384),),
        clip_dim=clip_dim, dino_dim=8, clip_hidden_dim=32, clip_hidden_layers=1, dino_hidden_dim=8,
        dino_hidden_layers=1,
    )
    sampler = exact_depth_sampler(SamplerConfig(num_surface_samples=12, num_free_samples=4))
    return LerfFieldConfig(radiance=radiance, language=language, sampler=sampler, language_top_k=4)


@dataclass(frozen=True, eq=False)
class GroundTruthScene:
    """The fitted scene and what a test checks it against."""

    viewer: ViewerScene
    """What the viewer serves."""
    ground_truth: GroundTruth
    """Labels and per-frame instance masks."""
    capture: Capture
    """The capture (named cameras are its frames)."""


@dataclass(frozen=True)
class GroundTruthSceneConfig:
    """How the known-answer scene is built."""

    fit: FitConfig = field(default_factory=FitConfig)
    """Fitting schedule."""
    field_config: LerfFieldConfig | None = None
    """Field architecture; None: the tiny preset's (tiny_field_config)."""
    session: QuerySessionConfig = field(
        default_factory=lambda: QuerySessionConfig(cache_bytes=VIEWER_CACHE_BYTES))
    """Session settings (scales, cache)."""
    max_points: int = 40_000
    """Points shown."""
    embedding_dim: int = LABEL_EMBED_DIM
    """Width of the label encoder."""


def ground_truth_scene(
    capture_dir: str | Path, config: GroundTruthSceneConfig = GroundTruthSceneConfig()
) -> GroundTruthScene:
    """Fuse the capture, fit a field to it, and wrap it as a viewer scene."""
    from lerf3d.fusion import FusionConfig, fuse_capture

    capture = load_capture(capture_dir)
    ground_truth = load_ground_truth(capture_dir)
    fusion = fuse_capture(capture, FusionConfig(progress=False))
    encoder = LabelTextEncoder(config.embedding_dim)
    field_config = config.field_config or tiny_field_config(encoder.embedding_dim)
    torch.manual_seed(config.fit.seed)
    field = LerfField(field_config, fusion.bounds)
    samples = back_project(capture, ground_truth, config.fit.pixel_stride, config.fit.seed)
    field = fit_field(field, samples, encoder, config.fit)
    xyz = torch.as_tensor(fusion.points.xyz, dtype=torch.float32)
    field.occupancy = OccupancyGrid.from_points(xyz, field.lower, field.upper, OCCUPANCY_VOXEL)
    session = QuerySession(field, encoder, "cpu", config.session)
    cameras = {frame.name: frame_camera(frame) for frame in capture.frames}
    points = subsample_points(PointSet(fusion.points.xyz, fusion.points.rgb), config.max_points)
    title = f"{ground_truth.scene} (fitted to ground truth)"
    scene = ViewerScene(session, points, cameras, fusion.bounds, title, capture_root=Path(capture_dir))
    return GroundTruthScene(scene, ground_truth, capture)
