"""Per-scene 3D features for Scene-LLM training, on disk, and the token store built from them.

``SceneFeatures`` is everything training needs from a capture, computed once: the fused points with
their language features, and for every frame its pose and the points it sees (depth-tested), so
egocentric frame tokens need neither the images nor the depth maps at training time. A dataset
folder keeps them as ``features/<scene>.pt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Int
from tqdm import tqdm

from lerf3d.atomic import atomic_path
from lerf3d.capture import load_capture
from lerf3d.capture.io import load_depth
from lerf3d.geometry import seen_points, to_camera_frame, to_world_frame, visible_mask
from lerf3d.query.phrases import check_phrases, encode_phrases
from lerf3d.query.relevancy import CANONICAL_NEGATIVES
from lerf3d.scene_llm.tokens.crops import CropSource, crop_named_features, segment_crop_features
from lerf3d.scene_llm.tokens.features3d import (
    DEFAULT_WORLD_SCALE_M,
    BackprojectionConfig,
    FeaturePoints,
    backproject_pyramid,
)
from lerf3d.scene_llm.tokens.frames import (
    PoolingConfig,
    SceneTokens,
    egocentric_tokens,
    pool_points,
)
from lerf3d.scene_llm.tokens.naming import named_segments
from lerf3d.scene_llm.tokens.segments import SegmentConfig, scene_segments, segment_tokens
from lerf3d.torch_files import load_torch_file
from lerf3d.types import Capture, Intrinsics, PointSet

SCENE_FEATURES_FORMAT = "lerf3d-scene-features/1"
"""Tag stored in every scene-features file; bump when the layout changes."""

FEATURES_DIR = "features"
"""Sub-folder of a dataset holding ``<scene>.pt``."""


@dataclass(frozen=True, eq=False)
class SceneFeatures:
    """Feature points of one scene and what each frame sees of them."""

    scene: str
    """Scene name."""
    points: FeaturePoints
    """Fused points with language features."""
    frame_poses: Mapping[str, np.ndarray]
    """Frame name -> (4, 4) camera-to-world (OpenCV)."""
    frame_points: Mapping[str, Int[torch.Tensor, " n"]]
    """Frame name -> indices of the points that frame sees."""

    def __post_init__(self) -> None:
        if set(self.frame_poses) != set(self.frame_points):
            raise ValueError(f"scene {self.scene}: frame poses and visible points name different frames")


def frame_visibility(
    capture: Capture, xyz: torch.Tensor, config: BackprojectionConfig = BackprojectionConfig()
) -> dict[str, torch.Tensor]:
    """Frame name -> indices of the points that frame's depth map shows (the back-projection test)."""
    visible = {}
    for frame in tqdm(capture.frames, desc="visibility", unit="frame", disable=not config.show_progress):
        depth = torch.from_numpy(load_depth(frame))
        mask = visible_mask(xyz, frame.camera_to_world, frame.intrinsics, depth, config.depth_tolerance_m,
                           config.depth_tolerance_rel)
        visible[frame.name] = torch.nonzero(mask).squeeze(1)
    return visible


def compute_scene_features(
    scene: str,
    capture: Capture,
    capture_features,
    points: PointSet,
    world_scale: float = DEFAULT_WORLD_SCALE_M,
    config: BackprojectionConfig = BackprojectionConfig(),
) -> SceneFeatures:
    """Back-projected features (:func:`backproject_pyramid`) and per-frame visibility of ``points``."""
    lifted = backproject_pyramid(capture, capture_features, points, world_scale=world_scale, config=config)
    visible = frame_visibility(capture, lifted.xyz, config)
    poses = {f.name: np.array(f.camera_to_world) for f in capture.frames}
    return SceneFeatures(scene, lifted, poses, visible)


def save_scene_features(path: str | Path, features: SceneFeatures) -> Path:
    """Write atomically (tensors and plain data only, loadable with ``weights_only=True``)."""
    payload = {
        "format": SCENE_FEATURES_FORMAT,
        "scene": features.scene,
        "xyz": features.points.xyz.cpu(),
        "rgb": features.points.rgb.cpu(),
        "features": features.points.features.cpu().half(),  # unit vectors: fp16 loses < 1e-3
        "source": features.points.source,
        "frames": {name: {"pose": torch.from_numpy(np.asarray(pose, np.float64)),
                          "points": features.frame_points[name].cpu()}
                   for name, pose in features.frame_poses.items()},
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_scene_features(path: str | Path) -> SceneFeatures:
    """Read :func:`save_scene_features`'s file; ValueError naming it when it is something else."""
    path = Path(path)
    payload = load_torch_file(path, "scene features")
    if not isinstance(payload, dict) or payload.get("format") != SCENE_FEATURES_FORMAT:
        raise ValueError(f"{path} is not a {SCENE_FEATURES_FORMAT} file")
    points = FeaturePoints(payload["xyz"], payload["rgb"], payload["features"].float(), payload["source"])
    frames = payload["frames"]
    return SceneFeatures(payload["scene"], points, {n: f["pose"].numpy() for n, f in frames.items()},
                         {n: f["points"] for n, f in frames.items()})


TokenMode = Literal["voxel", "segment"]


@dataclass(frozen=True)
class TokenConfig:
    """How feature points become LLM tokens."""

    scene: PoolingConfig = field(default_factory=lambda: PoolingConfig(voxel_size=0.2, max_tokens=64))
    """Scene tokens (world frame) in voxel mode. Default sized for the CPU: <= 64 tokens (ENV_NOTES: tens
    of tokens keep a SmolLM2 step in seconds); GPU users raise max_tokens and lower voxel_size."""
    frame: PoolingConfig = field(default_factory=lambda: PoolingConfig(voxel_size=0.2, max_tokens=32))
    """Egocentric frame tokens of stage 1 in voxel mode (one camera sees less than the room)."""
    mode: TokenMode = "voxel"
    """``voxel``: hybrid point-voxel pooling of every point (Scene-LLM); ``segment``: one token per
    furniture segment, the room's shell left out (:mod:`lerf3d.scene_llm.tokens.segments`)."""
    segments: SegmentConfig = field(default_factory=SegmentConfig)
    """Shell removal and segmentation in segment mode."""
    min_visible_points: int = 10
    """Segment mode, frame tokens: a segment seen by fewer of a frame's points is left out of it."""
    crop_views: int = 0
    """Segment mode: > 0 names each segment also from crops of its this-many best frames, as the
    object layer names objects (:mod:`lerf3d.scene_llm.tokens.crops`; needs the captures and the
    encoder, :class:`~lerf3d.scene_llm.tokens.crops.CropSource`); 0: the mean of the points' features."""
    name_objects: bool = False
    """Segment mode with crops: name the segments among the run's labels as the object layer names
    objects and join those of one name that touch or stand stacked, a token per object instead of per
    piece (:mod:`lerf3d.scene_llm.tokens.naming`; the crop source carries the labels). Off in the
    presets, whose weights were trained without it; the no-LLM readout of the 16 held-out rooms with
    it counts 0.82 -> 0.88 (4 cm features, these segments) and 0.82 -> 0.87 (2 cm, the object layer's
    segmentation), ``docs/history.md``."""

    def __post_init__(self) -> None:
        if self.mode not in ("voxel", "segment"):
            raise ValueError(f"TokenConfig.mode must be 'voxel' or 'segment', got {self.mode!r}")
        if self.min_visible_points < 1:
            raise ValueError(f"min_visible_points must be >= 1, got {self.min_visible_points}")
        if self.crop_views < 0 or (self.crop_views and self.mode != "segment"):
            raise ValueError(f"crop_views must be >= 0, and > 0 only in segment mode, got {self.crop_views} "
                             f"in {self.mode!r} mode")
        if self.name_objects and not self.crop_views:
            raise ValueError("name_objects names segments from their crops: it needs crop_views > 0")


@dataclass(frozen=True, eq=False)
class ViewTokens:
    """What one camera sees of a scene, twice: as the LLM reads it and as a viewer draws it."""

    ego: SceneTokens
    """Egocentric tokens, in the camera's OpenCV frame, left to right."""
    world: SceneTokens
    """The same tokens in the same order, in world coordinates (boxes where ``ego`` has them)."""


class TokenStore:
    """Scene and frame tokens of a set of scenes, pooled on first use and kept in memory.

    A scene's feature points (hundreds of MB at a fine fusion voxel) are what the tokens are pooled
    from; a store that knows the scenes' files (``paths``) loads them when first needed and
    :meth:`pool` can let them go once a scene's tokens are made, so a training run holds tokens, not
    points (reloaded from the file if a token not pooled is asked for later)."""

    def __init__(self, scenes: Mapping[str, SceneFeatures], config: TokenConfig = TokenConfig(),
                 crops: CropSource | None = None, paths: Mapping[str, Path] | None = None) -> None:
        if config.crop_views and crops is None:
            raise ValueError(f"tokens named from crops (crop_views={config.crop_views}) need each scene's capture "
                             "and the image-text encoder (a CropSource)")
        if config.name_objects and (crops is None or len(crops.labels) < 2):
            raise ValueError("tokens named as objects (name_objects) need the run's labels, at least two "
                             "(CropSource.labels: the names in the run's vocabulary.json)")
        self.scenes = dict(scenes)
        """Scenes whose feature points are in memory."""
        self.paths = dict(paths or {})
        """Scene -> its features file, for scenes that can be (re)loaded on demand."""
        self.config = config
        self.crops = crops
        self._cache: dict[tuple[str, str | None], SceneTokens] = {}
        self._segments: dict[str, torch.Tensor] = {}
        self._segment_features: dict[str, torch.Tensor | None] = {}
        self._keys: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def from_dataset(
        cls, dataset_dir: str | Path, scene_names, config: TokenConfig = TokenConfig(),
        crops: CropSource | None = None, lazy: bool = False,
    ) -> TokenStore:
        """The store of ``features/<scene>.pt`` of each named scene of a dataset folder (crop-named
        tokens: see :func:`lerf3d.scene_llm.tokens.prepare.dataset_tokens`, which finds their
        ``crops``): every file loaded now, or with ``lazy`` each when first needed (missing files
        are reported now either way)."""
        folder = Path(dataset_dir) / FEATURES_DIR
        paths = {name: folder / f"{name}.pt" for name in scene_names}
        missing = [str(path) for path in paths.values() if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"no scene features at {', '.join(missing)}")
        scenes = {} if lazy else {name: load_scene_features(path) for name, path in paths.items()}
        return cls(scenes, config, crops, paths)

    def _features(self, scene: str) -> SceneFeatures:
        if scene not in self.scenes and scene in self.paths:
            self.scenes[scene] = load_scene_features(self.paths[scene])
        try:
            return self.scenes[scene]
        except KeyError:
            raise KeyError(f"no features for scene {scene!r} (have {sorted({*self.scenes, *self.paths})})") from None

    def points(self, scene: str) -> FeaturePoints:
        """The feature points of ``scene`` (loaded if need be)."""
        return self._features(scene).points

    @property
    def pooled(self) -> dict[tuple[str, str | None], SceneTokens]:
        """Every token set made so far, by (scene, frame or None)."""
        return dict(self._cache)

    def adopt(self, tokens: Mapping[tuple[str, str | None], SceneTokens]) -> None:
        """Take token sets made before (a run's saved ones, :mod:`.cache`) as if pooled here."""
        self._cache.update(tokens)

    def pool(self, keys: Iterable[tuple[str, str | None]], release: bool = True, progress: bool = False) -> None:
        """Make the tokens of every (scene, frame or None) key now, and each named scene's own
        (world-frame) tokens, a scene at a time; with ``release``, then let go of each scene's points
        (and per-point segment ids) when the store can reload them from its file. Tokens are the
        same as made on first use."""
        by_scene: dict[str, set[str]] = {}
        for scene, frame in keys:
            frames = by_scene.setdefault(scene, set())
            if frame is not None:
                frames.add(frame)
        for scene in tqdm(sorted(by_scene), desc="tokens", unit="scene", disable=not progress):
            self.scene(scene)
            for frame in sorted(by_scene[scene]):
                self.frame(scene, frame)
            if release and scene in self.paths:
                self.scenes.pop(scene, None)
                self._segments.pop(scene, None)

    def segment_ids(self, scene: str) -> Int[torch.Tensor, " N"]:
        """Segment id of every point of ``scene`` (-1: shell or fragment), computed once; with
        ``name_objects``, after joining the parts of one object (:mod:`.naming`)."""
        if scene not in self._segments:
            points = self._features(scene).points
            ids = scene_segments(points.xyz, points.features, self.config.segments)
            if self.config.name_objects:
                label_keys, negative_keys = self._label_keys()
                ids, table = named_segments(points.xyz, ids, self._crop_table(scene, ids), label_keys, negative_keys)
                self._segment_features[scene] = table
            self._segments[scene] = ids
        return self._segments[scene]

    def segment_features(self, scene: str) -> torch.Tensor | None:
        """Crop-named feature of every segment of ``scene`` (None unless ``crop_views`` > 0), computed once."""
        if scene not in self._segment_features:
            ids = self.segment_ids(scene)  # with name_objects, this also makes the table
            if scene not in self._segment_features:
                self._segment_features[scene] = self._crop_table(scene, ids) if self.config.crop_views else None
        return self._segment_features[scene]

    def _crop_table(self, scene: str, ids: Int[torch.Tensor, " N"]) -> torch.Tensor:
        """The crop-named feature of each segment of ``ids`` (the constructor made sure of a crop source)."""
        assert self.crops is not None
        if scene not in self.crops.captures:
            raise KeyError(f"no capture for scene {scene!r}: its tokens are named from the capture's crops")
        points = self._features(scene).points
        capture = load_capture(self.crops.captures[scene])
        with torch.no_grad():
            crops = segment_crop_features(capture, points.xyz, ids, self.crops.encoder, self.config.crop_views)
        return crop_named_features(points.features, ids, crops)

    def _label_keys(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit text embeddings of the crop source's labels (written with its template) and of the
        canonical negatives, encoded once."""
        if self._keys is None:
            assert self.crops is not None
            encoder = self.crops.encoder
            with torch.no_grad():
                labels = encoder.encode_text([self.crops.template.format(label) for label in self.crops.labels])
                negatives = encode_phrases(encoder, check_phrases(CANONICAL_NEGATIVES, "negative phrase"),
                                           what="negative phrase")
            self._keys = (F.normalize(labels.float().cpu(), dim=1), F.normalize(negatives.float().cpu(), dim=1))
        return self._keys

    def scene(self, scene: str) -> SceneTokens:
        """World-frame tokens of the whole scene."""
        key = (scene, None)
        if key not in self._cache:
            points = self._features(scene).points
            if self.config.mode == "segment":
                bounds = torch.stack([points.xyz.amin(0), points.xyz.amax(0)])  # (2, 3): the room
                self._cache[key] = segment_tokens(points.xyz, points.features, points.rgb,
                                                  self.segment_ids(scene), "scene", bounds,
                                                  segment_features=self.segment_features(scene))
            else:
                self._cache[key] = pool_points(points.xyz, points.features, points.rgb, self.config.scene,
                                               "scene")
        return self._cache[key]

    def frame(self, scene: str, frame: str) -> SceneTokens:
        """Egocentric tokens of what ``frame`` sees, in its camera frame."""
        key = (scene, frame)
        if key not in self._cache:
            features = self._features(scene)
            if frame not in features.frame_points:
                raise KeyError(f"scene {scene!r} has no frame {frame!r}")
            self._cache[key] = self._seen(scene, features.frame_points[frame], features.frame_poses[frame]).ego
        return self._cache[key]

    def view(self, scene: str, camera_to_world: torch.Tensor | np.ndarray, intrinsics: Intrinsics) -> ViewTokens:
        """Tokens of what any camera (OpenCV pose, e.g. the viewer's) sees of ``scene``: the points on
        the nearest surface of the scene's own z-buffer (:func:`lerf3d.geometry.seen_points`), pooled
        as a capture frame's are. Not cached: every camera is a new one."""
        seen = seen_points(self._features(scene).points.xyz, camera_to_world, intrinsics)
        return self._seen(scene, torch.nonzero(seen).squeeze(1), camera_to_world)

    def _seen(self, scene: str, index: Int[torch.Tensor, " n"], pose: torch.Tensor | np.ndarray) -> ViewTokens:
        """Tokens of the points ``index`` of ``scene`` as the camera ``pose`` sees them, left to right."""
        p = self._features(scene).points
        xyz_cam = to_camera_frame(p.xyz[index], pose)
        if self.config.mode == "segment":
            ids = self.segment_ids(scene)[index]
            seen = torch.bincount(ids + 1)  # (S + 1,), slot 0 counts the -1s
            enough = seen[ids + 1] >= self.config.min_visible_points
            ids = torch.where(enough, ids, torch.full_like(ids, -1))
            named = self.segment_features(scene)
            ego = segment_tokens(xyz_cam, p.features[index], p.rgb[index], ids, "ego", sort_axis=None,
                                 segment_features=named)
            world = segment_tokens(p.xyz[index], p.features[index], p.rgb[index], ids, "scene", sort_axis=None,
                                   segment_features=named)
            order = torch.argsort(ego.xyz[:, 0], stable=True)  # left to right, as segment_tokens sorts
            return ViewTokens(ego.select(order), world.select(order))
        ego = egocentric_tokens(p.xyz[index], p.features[index], p.rgb[index], pose, self.config.frame)
        world = SceneTokens(to_world_frame(ego.xyz, pose), ego.features, ego.rgb, "scene")
        return ViewTokens(ego, world)

    def tokens_for(self, scene: str, frame: str | None) -> SceneTokens:
        """Frame tokens for a caption record (frame given), scene tokens otherwise."""
        return self.scene(scene) if frame is None else self.frame(scene, frame)
