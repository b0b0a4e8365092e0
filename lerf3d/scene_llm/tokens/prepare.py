"""Compute ``features/<scene>.pt`` for every scene of a Scene-LLM dataset folder.

    lerf3d llm-prepare DATASET [--encoder lerf3d:tiny] [--scale 0.5] [--voxel 0.04]

Per scene: load the capture, fuse it (TSDF), extract the crop pyramids (cached on disk), back-project
them onto the fused points and record what each frame sees (see :mod:`lerf3d.scene_llm.tokens.scenes`).
Scenes whose file exists with features of the same encoder weights are skipped unless
``--overwrite``; features of other weights (a retrained tower keeps its spec) are recomputed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from lerf3d.atomic import write_json_atomic
from lerf3d.encoders.spec import DEFAULT_IMAGE_TEXT_SPEC
from lerf3d.features.tiling import PyramidConfig
from lerf3d.scene_llm.data.dataset import load_manifest
from lerf3d.scene_llm.tokens.crops import CropSource
from lerf3d.scene_llm.tokens.features3d import DEFAULT_WORLD_SCALE_M, BackprojectionConfig
from lerf3d.scene_llm.tokens.scenes import (
    FEATURES_DIR,
    SceneFeatures,
    TokenConfig,
    TokenStore,
    compute_scene_features,
    load_scene_features,
    save_scene_features,
)
from lerf3d.typed_config import apply_overrides, from_mapping

PREPARE_RECORD = "prepare.json"
"""File beside the scene features (and copied into each run trained on them) recording how they were
computed, so answering a new scene computes its features the same way without being told."""

DEFAULT_FUSION_VOXEL_M = 0.04
"""Fusion voxel for token features: tokens pool at >= 0.1 m, so finer points only cost time."""


def token_pyramid() -> PyramidConfig:
    """A coarse crop pyramid for scene tokens: features are read at ~0.5 m, which at room depths
    (1-4 m) and phone-like focal lengths is a tile of 0.2-0.5 of the image height; LERF's 7 levels
    from 0.05 H cost 6x more crops (1015 vs 167 per 160x120 image) for scales tokens never use."""
    return PyramidConfig(num_levels=3, min_tile_fraction=0.2, max_tile_fraction=0.5)


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of :func:`prepare_dataset`."""

    encoder: str = DEFAULT_IMAGE_TEXT_SPEC
    """Image-text encoder spec (``lerf3d.encoders.build_image_text_encoder``)."""
    world_scale: float = DEFAULT_WORLD_SCALE_M
    """Physical scale (metres) of the back-projected features."""
    fusion_voxel: float = DEFAULT_FUSION_VOXEL_M
    """TSDF voxel edge, metres."""
    pyramid: PyramidConfig = field(default_factory=token_pyramid)
    """Crop pyramid geometry (see :func:`token_pyramid`)."""
    frame_stride: int = 2
    """Back-project every n-th frame (neighbouring frames see nearly the same; visibility for
    egocentric tokens still uses every frame)."""
    cache_dir: Path | None = None
    """Feature-pyramid cache; None: ``DATASET/pyramid_cache``."""
    overwrite: bool = False
    """Recompute scenes whose features file exists."""

    def __post_init__(self) -> None:
        if not self.world_scale > 0 or not self.fusion_voxel > 0:
            raise ValueError("world_scale and fusion_voxel must be > 0 metres")
        if self.frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1, got {self.frame_stride}")


def save_prepare_config(path: str | Path, cfg: PrepareConfig) -> Path:
    """Record the settings that decide the features (not the cache folder or ``overwrite``)."""
    data = dataclasses.asdict(cfg)
    data.pop("cache_dir"), data.pop("overwrite")
    return write_json_atomic(Path(path), data)


def load_prepare_config(path: str | Path) -> PrepareConfig:
    """The :class:`PrepareConfig` of :func:`save_prepare_config`'s file; ValueError naming it if malformed."""
    path = Path(path)
    try:
        return from_mapping(PrepareConfig, json.loads(path.read_text()), source=str(path))
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: malformed feature settings ({err})") from None


def build_extractor(cfg: PrepareConfig, cache_dir: Path | None, device: str = "cpu"):
    """The crop-pyramid extractor of ``cfg.encoder`` (DINO maps are not needed for tokens)."""
    from lerf3d.encoders import build_image_text_encoder
    from lerf3d.features import FeatureExtractor, FeatureExtractorConfig

    encoder = build_image_text_encoder(cfg.encoder, device)
    return FeatureExtractor(FeatureExtractorConfig(pyramid=cfg.pyramid, show_progress=False), encoder, None,
                            cache_dir, device)


def capture_scene_features(name: str, capture_dir: Path, cfg: PrepareConfig, extractor,
                           device: str = "cpu") -> SceneFeatures:
    """Fuse one capture (the torch fusion backend on ``device``), extract its pyramids and back-project
    them (see the module docstring)."""
    from lerf3d.capture import load_capture
    from lerf3d.fusion.tsdf import FusionConfig, fuse_capture

    capture = load_capture(capture_dir)
    points = fuse_capture(capture, FusionConfig(voxel_size=cfg.fusion_voxel, progress=False,
                                                 device=device)).points
    featured = dataclasses.replace(capture, frames=capture.frames[:: cfg.frame_stride])
    with torch.no_grad():
        return compute_scene_features(name, capture, extractor.extract(featured), points, cfg.world_scale,
                                      BackprojectionConfig(frame_stride=cfg.frame_stride))


def prepare_dataset(dataset_dir: str | Path, cfg: PrepareConfig, device: str = "cpu") -> list[Path]:
    """Write the features of every scene of the dataset's manifest; returns the files written."""
    dataset_dir = Path(dataset_dir)
    scenes = load_manifest(dataset_dir)
    record = dataset_dir / FEATURES_DIR / PREPARE_RECORD
    if record.is_file() and not cfg.overwrite and load_prepare_config(record) != _recorded(cfg):
        raise ValueError(f"{record}: the existing features were computed with other settings "
                         f"({load_prepare_config(record)}); pass overwrite to recompute them")
    extractor = build_extractor(cfg, cfg.cache_dir or dataset_dir / "pyramid_cache", device)
    # a spec (lerf3d:tiny) can stay the same while its weights change: the name carries their digest
    source = f"backproject:{extractor.image_text_encoder.name}@{cfg.world_scale:g}m"
    todo = {name: entry for name, entry in scenes.items()
            if cfg.overwrite or _stored_source(dataset_dir / FEATURES_DIR / f"{name}.pt") != source}
    if cfg.overwrite or not record.is_file():  # an equal record stays untouched (runs' token caches
        save_prepare_config(record, cfg)       # fingerprint its modification time)
    written = []
    for name, entry in tqdm(todo.items(), desc="scenes", unit="scene"):
        features = capture_scene_features(name, entry.capture, cfg, extractor, device)
        written.append(save_scene_features(dataset_dir / FEATURES_DIR / f"{name}.pt", features))
        points = features.points
        tqdm.write(f"{name}: {len(points.xyz)} points, {int(points.observed.sum())} with features")
    return written


def dataset_crop_source(dataset_dir: str | Path, device: str = "cpu", labels: Sequence[str] = (),
                        template: str = CropSource.template) -> CropSource:
    """Each scene's capture (the manifest) and the encoder the features were prepared with (the
    record beside them): what crop-named tokens read; ``labels`` and ``template``: what tokens named
    as objects are named by (:class:`CropSource`)."""
    dataset_dir = Path(dataset_dir)
    record = dataset_dir / FEATURES_DIR / PREPARE_RECORD
    if not record.is_file():
        raise FileNotFoundError(f"{record}: no record of how the features were prepared, which tokens named "
                                "from crops need (the encoder); run lerf3d llm-prepare")
    from lerf3d.encoders import build_image_text_encoder

    captures = {name: entry.capture for name, entry in load_manifest(dataset_dir).items()}
    encoder = build_image_text_encoder(load_prepare_config(record).encoder, device)
    return CropSource(captures, encoder, tuple(labels), template)


def dataset_tokens(dataset_dir: str | Path, scene_names, config: TokenConfig, device: str = "cpu",
                   lazy: bool = False, labels: Sequence[str] = (),
                   template: str = CropSource.template) -> TokenStore:
    """The token store of the named scenes of a prepared dataset, with the crop source when ``config``
    names tokens from crops; ``lazy``: each scene's features read when first needed
    (:meth:`TokenStore.pool` then lets them go); ``labels`` and ``template``: what tokens named as
    objects (``config.name_objects``) are named by, the run's vocabulary and the bridge's template."""
    crops = dataset_crop_source(dataset_dir, device, labels, template) if config.crop_views else None
    return TokenStore.from_dataset(dataset_dir, scene_names, config, crops, lazy)


def _stored_source(path: Path) -> str | None:
    """``source`` of an existing scene-features file (None when there is none)."""
    return load_scene_features(path).points.source if path.is_file() else None


def _recorded(cfg: PrepareConfig) -> PrepareConfig:
    """``cfg`` as a record reads back (no cache folder, no overwrite flag)."""
    return dataclasses.replace(cfg, cache_dir=None, overwrite=False)


def run(args: argparse.Namespace) -> int:
    """``lerf3d llm-prepare``: unset options keep :class:`PrepareConfig`'s defaults."""
    given = {"encoder": args.encoder, "world_scale": args.scale, "fusion_voxel": args.voxel,
             "frame_stride": args.frame_stride}
    cfg = PrepareConfig(overwrite=args.overwrite, **{k: v for k, v in given.items() if v is not None})
    cfg = apply_overrides(cfg, args.set)
    written = prepare_dataset(args.dataset, cfg, args.device)
    print(f"wrote {len(written)} scene feature file(s) under {args.dataset / FEATURES_DIR}")
    return 0
