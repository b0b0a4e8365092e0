"""nerfstudio data manager over lerf3d's own data path: capture -> fusion -> features -> ray batches.

``ns-train lerf3d --data CAPTURE`` reads the capture with :func:`lerf3d.capture.load_capture` (any
format lerf3d reads, in its metric world frame; ``--pipeline.datamanager.intrinsics`` is ``lerf3d
train --intrinsics``), fuses it for the scene bounds and the occupancy
grid, extracts (or reads from the cache) the crop pyramids and DINO maps, and draws training
batches with :class:`lerf3d.train.DataManager` - the batches ``lerf3d train`` draws, language
targets included. nerfstudio datasets of the same frames serve its viewer and image evaluation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Optional, Type

import numpy as np
import torch
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.data.datamanagers.base_datamanager import DataManager, DataManagerConfig
from nerfstudio.data.dataparsers.base_dataparser import DataparserOutputs
from nerfstudio.data.datasets.base_dataset import InputDataset
from nerfstudio.data.utils.dataloaders import FixedIndicesEvalDataloader
from nerfstudio.utils.rich_utils import CONSOLE

from lerf3d.capture import CaptureError, load_capture, parse_intrinsics
from lerf3d.capture.io import load_depth, load_rgb, resize_depth_nearest
from lerf3d.encoders.spec import DEFAULT_DENSE_SPEC, DEFAULT_IMAGE_TEXT_SPEC
from lerf3d.features.extractor import CaptureFeatures, FeatureExtractorConfig
from lerf3d.field.contraction import ContractionConfig
from lerf3d.field.rays import RayBundle
from lerf3d.integrations.nerfstudio_geometry import nerfstudio_cameras, scene_box
from lerf3d.runs.layout import FEATURES_DIR
from lerf3d.train.datamanager import DataManager as RayBatches
from lerf3d.train.datamanager import DataManagerConfig as RayBatchConfig
from lerf3d.train.datamanager import TrainBatch
from lerf3d.types import Capture, Frame, PointSet, SceneBounds

SCENE_KEY = "lerf3d_scene"
"""Key of the :class:`SceneInputs` in the training dataset's metadata: nerfstudio's pipeline hands
that metadata to the model, the one channel it has from data manager to model."""
IMAGE_KEY = "image"
"""Ground-truth colours in a batch (nerfstudio's name)."""
DEPTH_KEY = "depth"
"""Measured z-depth (m, 0 where missing) in an evaluation batch."""
TRAIN_BATCH_KEY = "lerf3d_batch"
"""The :class:`lerf3d.train.TrainBatch` (language targets included) in a training batch."""
"""Default feature cache: beside the capture, where ``lerf3d features`` puts it."""
EVAL_SEED_OFFSET = 7
"""The eval-ray generator is seeded apart from the training generators, so evaluating never
changes which rays training draws next."""


@dataclass(frozen=True, eq=False)
class SceneInputs:
    """What the model needs from the data side to build its field."""

    bounds: SceneBounds
    """Fused scene bounds (the field adds ``box_margin``)."""
    points: PointSet
    """Fused surface points: the occupancy grid guiding samples at views without depth."""
    clip_dim: int | None
    """Image-text embedding dimension of the features (None without language)."""
    dino_dim: int | None
    """DINO feature dimension (None without DINO maps)."""
    box_margin: float
    """Margin the data manager clipped training rays with."""
    min_near: float
    """Smallest ray start distance (m) the data manager used."""


@dataclass
class Lerf3dDataManagerConfig(DataManagerConfig):
    """lerf3d's data path behind nerfstudio's data manager interface (``--data`` is the capture)."""

    _target: Type = dataclasses.field(default_factory=lambda: Lerf3dDataManager)
    """Data manager class to build."""
    rays: RayBatchConfig = dataclasses.field(default_factory=RayBatchConfig)
    """Train/held-out split and ray batches (lerf3d's ``[data]`` preset table)."""
    features: FeatureExtractorConfig = dataclasses.field(default_factory=FeatureExtractorConfig)
    """Crop pyramid and DINO map extraction (lerf3d's ``[features]`` preset table)."""
    language: bool = True
    """Extract features and draw language targets; must match whether the model has a language field."""
    image_text: str = DEFAULT_IMAGE_TEXT_SPEC
    """Image-text encoder spec for the crop pyramids (e.g. ``openclip:ViT-B-16/laion2b_s34b_b88k``)."""
    dense: Optional[str] = DEFAULT_DENSE_SPEC
    """Dense (DINO) encoder spec; None trains without DINO targets."""
    features_dir: Optional[Path] = None
    """Feature cache folder; None: ``CAPTURE/features`` (``lerf3d features``' default)."""
    box_margin: float = ContractionConfig().margin
    """Margin (m) around the fused bounds that rays are clipped to; must equal the model's
    ``field.contraction.margin``."""
    seed: int = 0
    """Seeds the ray sampler (lerf3d's ``seed``)."""
    intrinsics: Optional[str] = None
    """Camera replacing or supplying the capture's, as ``lerf3d train --intrinsics``: ``fx,fy,cx,cy``
    in pixels or a JSON file (a TUM sequence whose folder name names no Freiburg sensor needs it)."""


INTRINSICS_FLAG = "--pipeline.datamanager.intrinsics"
"""ns-train's spelling of lerf3d's ``--intrinsics``, for the errors that ask for it."""


def read_capture(config: Lerf3dDataManagerConfig) -> Capture:
    """The capture at ``--data`` through lerf3d's readers; a CaptureError's advice names ns-train's flag."""
    try:
        override = parse_intrinsics(config.intrinsics) if config.intrinsics is not None else None
        return load_capture(Path(config.data), intrinsics=override)
    except CaptureError as err:
        raise CaptureError(str(err).replace("--intrinsics", INTRINSICS_FLAG)) from None


def capture_features(
    capture: Capture, config: Lerf3dDataManagerConfig, device: torch.device
) -> CaptureFeatures:
    """Crop pyramids and DINO maps of the capture, through lerf3d's content-keyed cache."""
    from lerf3d.features.command import run_features  # deferred: builds encoders

    data = Path(capture.root)
    cache = config.features_dir or (data / FEATURES_DIR if data.is_dir() else data.parent / FEATURES_DIR)
    summary, features = run_features(
        capture, cache, config.image_text, config.dense, device=device, batch_size=config.features.batch_size,
        pyramid=config.features.pyramid, show_progress=config.features.show_progress,
    )
    CONSOLE.print(f"lerf3d features: {summary.describe()}")
    return features


def dataparser_outputs(
    frames: list[Frame], lower: torch.Tensor, upper: torch.Tensor, metadata: dict
) -> DataparserOutputs:
    """nerfstudio's description of ``frames`` (identity dataparser transform: lerf3d's world frame)."""
    return DataparserOutputs(
        image_filenames=[f.rgb_path for f in frames],
        cameras=nerfstudio_cameras(frames),
        scene_box=scene_box(lower, upper),
        metadata=metadata,
    )


class Lerf3dDataset(InputDataset):
    """nerfstudio images of lerf3d frames, with the measured depth (read by lerf3d) beside each.

    Both are read by lerf3d's readers: a Record3D ``.r3d`` frame's image is a member of the zip
    archive, which nerfstudio's own loader (``PIL.Image.open`` on the path) cannot open.
    """

    def __init__(self, outputs: DataparserOutputs, frames: list[Frame]) -> None:
        super().__init__(outputs)
        self.frames = frames

    def get_numpy_image(self, image_idx: int) -> np.ndarray:
        """(H, W, 3) uint8 colours of the frame at ``image_idx``."""
        return load_rgb(self.frames[image_idx])

    def get_metadata(self, data: dict) -> dict:
        frame = self.frames[data["image_idx"]]
        height, width = data[IMAGE_KEY].shape[:2]
        if frame.depth_path is None:
            return {DEPTH_KEY: torch.zeros(height, width)}
        depth = load_depth(frame)
        if depth.shape != (height, width):
            depth = resize_depth_nearest(depth, width, height)
        return {DEPTH_KEY: torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32))}


def select_rays(rays: RayBundle, index: torch.Tensor) -> RayBundle:
    """The rays at ``index``."""
    return replace(rays, **{k: v[index] for k, v in vars(rays).items() if v is not None})


class Lerf3dDataManager(DataManager):
    """Training batches from :class:`lerf3d.train.DataManager`; eval images from nerfstudio datasets."""

    config: Lerf3dDataManagerConfig

    def __init__(
        self,
        config: Lerf3dDataManagerConfig,
        device: torch.device | str = "cpu",
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        **kwargs,
    ) -> None:
        if world_size > 1:
            raise ValueError("lerf3d's nerfstudio data manager runs in one process (world_size 1)")
        if config.data is None:
            raise ValueError("lerf3d needs a capture: ns-train lerf3d --data CAPTURE")
        from lerf3d.fusion import FusionConfig, fuse_capture  # deferred: may import open3d

        self.config = config
        self.device = torch.device(device)
        self.test_mode = test_mode
        capture = read_capture(config)
        fusion = fuse_capture(capture, FusionConfig(progress=False))
        features = capture_features(capture, config, self.device) if config.language else None
        self.batches = RayBatches(
            config.rays, capture, fusion.bounds, config.box_margin, features, self.device, config.seed
        )
        self.scene = SceneInputs(
            fusion.bounds, fusion.points, self.batches.clip_dim, self.batches.dino_dim,
            config.box_margin, config.rays.min_near,
        )
        lower, upper = self.batches.lower, self.batches.upper
        train, held_out = self.batches.train_frames, self.batches.eval_frames
        self.train_dataparser_outputs = dataparser_outputs(train, lower, upper, {SCENE_KEY: self.scene})
        self.train_dataset = Lerf3dDataset(self.train_dataparser_outputs, train)
        self.eval_dataset = Lerf3dDataset(dataparser_outputs(held_out, lower, upper, {}), held_out)
        self.eval_generator = torch.Generator().manual_seed(config.seed + EVAL_SEED_OFFSET)
        super().__init__()  # runs setup_train / setup_eval outside inference mode

    def setup_train(self) -> None:
        """Nothing to do: every training ray was precomputed by lerf3d's data manager."""

    def setup_eval(self) -> None:
        assert self.eval_dataset is not None
        self.fixed_indices_eval_dataloader = FixedIndicesEvalDataloader(self.eval_dataset, device=self.device)

    def next_train(self, step: int) -> tuple[RayBundle, dict]:
        """lerf3d's next training batch: its rays and, for the loss, the whole :class:`TrainBatch`."""
        self.train_count += 1
        batch: TrainBatch = self.batches.next_train()
        return batch.rays, {IMAGE_KEY: batch.rgb, TRAIN_BATCH_KEY: batch}

    def next_eval(self, step: int) -> tuple[RayBundle, dict]:
        """Random rays of one held-out view (the views take turns), rendered as a novel view."""
        frames = self.batches.eval_frames
        view = self.batches.eval_view(frames[self.eval_count % len(frames)])
        self.eval_count += 1
        count = min(self.config.rays.rays_per_batch, len(view.rays))
        index = torch.randint(len(view.rays), (count,), generator=self.eval_generator)
        rgb, depth = view.rgb.reshape(-1, 3), view.depth.reshape(-1)  # (H*W, 3), (H*W,)
        batch = {IMAGE_KEY: rgb[index], DEPTH_KEY: depth[index]}
        return select_rays(view.rays, index.to(self.device)), batch

    def next_eval_image(self, step: int) -> tuple[Cameras, dict]:
        """The next held-out camera (in turn) and its image and measured depth."""
        loader = self.fixed_indices_eval_dataloader
        camera, batch = loader.get_camera(loader.image_indices[self.eval_count % len(loader.image_indices)])
        self.eval_count += 1
        return camera, batch

    def get_train_rays_per_batch(self) -> int:
        return self.config.rays.rays_per_batch

    def get_eval_rays_per_batch(self) -> int:
        return self.config.rays.rays_per_batch

    def get_datapath(self) -> Path:
        assert self.config.data is not None
        return Path(self.config.data)

    def get_param_groups(self) -> dict:
        return {}
