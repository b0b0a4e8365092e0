"""nerfstudio model around lerf3d's LerfField: lerf3d's rendering and losses, nerfstudio's interface.

Training rays arrive as lerf3d :class:`~lerf3d.field.rays.RayBundle` s from the lerf3d data manager
(with measured depth and the CLIP scale of their targets); camera rays from nerfstudio's viewer and
evaluation are converted by :func:`rays_from_nerfstudio`. The loss is
:func:`lerf3d.train.compute_losses`, term by term. No image metric needs downloaded weights
(nerfacto's LPIPS does): evaluation reports PSNR and depth error, as ``lerf3d train`` does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from typing import Type

import numpy as np
import torch
from nerfstudio.cameras.rays import RayBundle as NerfstudioRayBundle
from nerfstudio.models.base_model import Model, ModelConfig
from torch.nn import Parameter

from lerf3d.field.losses import psnr, rgb_loss
from lerf3d.field.model import LerfField, LerfFieldConfig, RenderOutput
from lerf3d.field.occupancy import OCCUPANCY_VOXEL, OccupancyGrid
from lerf3d.field.rays import RayBundle
from lerf3d.integrations.nerfstudio_data import DEPTH_KEY, IMAGE_KEY, SCENE_KEY, TRAIN_BATCH_KEY, SceneInputs
from lerf3d.integrations.nerfstudio_geometry import rays_from_nerfstudio
from lerf3d.train.evaluate import EvalConfig, colourise_depth
from lerf3d.train.losses import LossConfig, LossTerms, compute_losses

RENDER_KEY = "lerf3d_render"
"""The whole :class:`~lerf3d.field.model.RenderOutput` among the outputs (weights and samples feed
the depth losses; nerfstudio's image renderer skips non-tensor outputs)."""
LOSS_TERMS = tuple(f.name for f in dataclasses.fields(LossTerms) if f.name not in ("total", "psnr"))
"""Weighted terms of :class:`LossTerms`, in the order lerf3d sums them: nerfstudio adds the loss
dict's values in order, so the total is the same float."""


@dataclass
class Lerf3dModelConfig(ModelConfig):
    """A LerfField trained with lerf3d's losses (``[field]`` and ``[loss]`` of a lerf3d preset)."""

    _target: Type = dataclasses.field(default_factory=lambda: Lerf3dModel)
    """Model class to build."""
    enable_collider: bool = False
    """Off: rays are clipped to the fused scene box by lerf3d (near/far per ray)."""
    field: LerfFieldConfig = dataclasses.field(default_factory=LerfFieldConfig)
    """The scene model; the language ``clip_dim``/``dino_dim`` are taken from the features."""
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    """Loss weights."""
    seed: int = 0
    """Seeds the field's initialisation and the sample jitter (lerf3d's ``seed``)."""
    eval_num_rays_per_chunk: int = EvalConfig().chunk_size
    """Rays rendered at once for whole images (bounds memory)."""


def field_config_for(config: LerfFieldConfig, scene: SceneInputs) -> LerfFieldConfig:
    """``config`` with the language dimensions of the features, as the lerf3d trainer builds it."""
    if config.language is None:
        return config
    dims = {"clip_dim": scene.clip_dim}
    if scene.dino_dim is not None:
        dims["dino_dim"] = scene.dino_dim
    return replace(config, language=replace(config.language, **dims))


def check_scene(config: LerfFieldConfig, scene: SceneInputs) -> None:
    """ValueError when the data manager prepared data for another field than this one."""
    if (config.language is not None) != (scene.clip_dim is not None):
        raise ValueError(
            "the model's field.language and the data manager's language setting disagree: set "
            "--pipeline.datamanager.language to match (True with a language field, False with "
            "field.language:none)"
        )
    if config.contraction.margin != scene.box_margin:
        raise ValueError(
            f"--pipeline.datamanager.box-margin ({scene.box_margin}) must equal the model's "
            f"field.contraction.margin ({config.contraction.margin})"
        )


class Lerf3dModel(Model):
    """nerfstudio's Model interface over lerf3d's :class:`LerfField`."""

    config: Lerf3dModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        scene: SceneInputs = self.kwargs["metadata"][SCENE_KEY]
        check_scene(self.config.field, scene)
        self.scene = scene
        torch.manual_seed(self.config.seed)  # the lerf3d trainer seeds right before building the field
        config = field_config_for(self.config.field, scene)
        self.field = LerfField(config, scene.bounds, num_cameras=self.num_train_data)
        xyz = torch.as_tensor(scene.points.xyz, dtype=torch.float32)
        lower, upper = self.field.lower, self.field.upper
        self.field.occupancy = OccupancyGrid.from_points(xyz, lower, upper, OCCUPANCY_VOXEL)
        self._render_generator: torch.Generator | None = None

    def render_generator(self, device: torch.device) -> torch.Generator:
        """Sample jitter, seeded as the lerf3d trainer seeds it; made on the rays' device."""
        if self._render_generator is None or self._render_generator.device != device:
            self._render_generator = torch.Generator(device=device).manual_seed(self.config.seed + 1)
        return self._render_generator

    def get_param_groups(self) -> dict[str, list[Parameter]]:
        return self.field.param_groups()

    def lerf3d_rays(self, ray_bundle: RayBundle | NerfstudioRayBundle) -> RayBundle:
        if isinstance(ray_bundle, RayBundle):
            return ray_bundle
        if isinstance(ray_bundle, NerfstudioRayBundle):
            return rays_from_nerfstudio(ray_bundle, self.field.lower, self.field.upper, self.scene.min_near)
        raise TypeError(f"Lerf3dModel renders ray bundles, got {type(ray_bundle).__name__}")

    def get_outputs(self, ray_bundle: RayBundle | NerfstudioRayBundle) -> dict[str, object]:
        rays = self.lerf3d_rays(ray_bundle)
        if self.training:
            language = self.field.language is not None and rays.clip_scale_per_depth is not None
            generator = self.render_generator(rays.origins.device)
            output = self.field.render_rays(
                rays, with_language=language, return_samples=True, generator=generator
            )
        else:  # colour and depth only, no jitter: lerf3d's evaluation renderer
            output = self.field.render_rays(rays, with_language=False, jitter=False)
        return {
            "rgb": output.rgb,
            "depth": output.depth[:, None],  # (R,) -> (R, 1), nerfstudio's layout
            "accumulation": output.accumulation[:, None],  # (R,) -> (R, 1)
            RENDER_KEY: output,
        }

    def get_metrics_dict(self, outputs: dict, batch: dict) -> dict[str, torch.Tensor]:
        return {"psnr": psnr(outputs["rgb"].detach(), batch[IMAGE_KEY].to(outputs["rgb"].device))}

    def get_loss_dict(
        self, outputs: dict, batch: dict, metrics_dict: dict | None = None
    ) -> dict[str, torch.Tensor]:
        """lerf3d's weighted terms for a training batch; the colour term alone for eval rays."""
        train_batch = batch.get(TRAIN_BATCH_KEY)
        if train_batch is None:
            target = batch[IMAGE_KEY].to(outputs["rgb"].device)
            return {"rgb": self.config.loss.rgb * rgb_loss(outputs["rgb"], target)}
        render: RenderOutput = outputs[RENDER_KEY]
        terms = compute_losses(render, train_batch, self.config.loss)
        return {name: getattr(terms, name) for name in LOSS_TERMS if getattr(terms, name) is not None}

    def get_image_metrics_and_images(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        """PSNR and depth error of a whole rendered view (lerf3d's metrics), [truth | render] images."""
        rgb = outputs["rgb"].clamp(0, 1)  # (H, W, 3)
        truth = batch[IMAGE_KEY][..., :3].to(rgb.device)
        metrics = {"psnr": float(psnr(rgb, truth))}
        images = {"img": torch.cat([truth, rgb], dim=1)}
        measured = batch.get(DEPTH_KEY)
        if measured is not None and bool((measured > 0).any()):
            rendered = outputs["depth"][..., 0].cpu()  # (H, W, 1) -> (H, W)
            measured = measured.cpu()
            valid = measured > 0
            metrics["depth_abs_error"] = float((rendered - measured).abs()[valid].mean())
            near, far = float(measured[valid].min()), float(measured[valid].max())
            pair = [colourise_depth(d.numpy(), near, far) for d in (measured, rendered)]
            images["depth"] = torch.from_numpy(np.concatenate(pair, axis=1).astype(np.float32) / 255.0)
        return metrics, images
