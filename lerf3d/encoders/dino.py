"""DINO and DINOv2 dense encoders on the plain-torch ViT, weights from local files only unless the
caller passes ``allow_download=True``.

DINO v1 ViTs are built with the same shapes and parameter names as timm's ``vit_*_224_dino``
models (so timm and official DINO checkpoints load as they are) without importing timm, whose
import alone takes several seconds; tests compare the two forwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from lerf3d.encoders.checkpoints import (
    MissingWeightsError,
    download_to_torch_hub,
    load_into,
    load_weights_file,
    torch_hub_cached_file,
)
from lerf3d.encoders.dense import ViTDenseEncoder
from lerf3d.encoders.spec import EncoderSpec, unknown_name_error
from lerf3d.encoders.vit import ViT, ViTConfig


class DinoModel(NamedTuple):
    """One DINO v1 release."""

    timm_name: str
    """timm 0.6.7's name for the same architecture (its checkpoints load as they are)."""
    patch_size: int
    embed_dim: int
    depth: int
    num_heads: int
    file_stem: str
    """Release file stem, e.g. ``dino_deitsmall8`` -> ``dino_deitsmall8_pretrain.pth``."""


DINO_MODELS = {
    "dino_vits8": DinoModel("vit_small_patch8_224_dino", 8, 384, 12, 6, "dino_deitsmall8"),
    "dino_vits16": DinoModel("vit_small_patch16_224_dino", 16, 384, 12, 6, "dino_deitsmall16"),
    "dino_vitb8": DinoModel("vit_base_patch8_224_dino", 8, 768, 12, 12, "dino_vitbase8"),
    "dino_vitb16": DinoModel("vit_base_patch16_224_dino", 16, 768, 12, 12, "dino_vitbase16"),
}
"""Names of the DINO repo's torch hub entry points; shapes of DeiT-S and ViT-B (DeiT paper,
Touvron et al. 2021, Table 1)."""
DINO_URL = "https://dl.fbaipublicfiles.com/dino/{stem}_pretrain/{stem}_pretrain.pth"
"""Official DINO weights (timm 0.6.7's pretrained URL for these models); cached under this file name."""
DINO_IMAGE_SIZE = 224
"""Side the DINO positional grid was trained for."""

DINO_DEFAULT_TARGET_SIZE = 448
"""Longer side for DINO/DINOv2 maps: close to the ~500 px LERF feeds its ViT-S/8, and a multiple of
both patch sizes (56 cells with patch 8, 32 with patch 14)."""

DINOV2_LAYER_SCALE = 1e-5
"""LayerScale init of DINOv2 training (its ``ssl_default_config.yaml``); only the presence of
LayerScale matters here, the loaded ``gamma`` values replace it."""
DINOV2_IMAGE_SIZE = 518
"""Side the DINOv2 positional grid was trained for (37 x 37 patches of 14 px)."""
DINOV2_NUM_REGISTERS = 4
"""Register tokens of the ``*_reg`` DINOv2 checkpoints (Darcet et al. 2023)."""
_DINOV2_SHAPES = {"vits14": (384, 12, 6), "vitb14": (768, 12, 12), "vitl14": (1024, 24, 16)}
"""(embed_dim, depth, heads) of the DINOv2 ViTs that use the plain MLP (ViT-g uses SwiGLU: not built)."""
DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_{arch}/dinov2_{arch}{reg}_pretrain.pth"
"""Official DINOv2 weights; torch hub caches them under this file name."""


def dinov2_names() -> list[str]:
    """Valid names after ``dinov2:``."""
    return [f"{arch}{reg}" for arch in _DINOV2_SHAPES for reg in ("", "_reg")]


def dinov2_config(name: str) -> ViTConfig:
    """The ViT shape of a DINOv2 model name such as ``vits14`` or ``vitb14_reg``."""
    arch, _, reg = name.partition("_")
    if arch not in _DINOV2_SHAPES or reg not in ("", "reg"):
        raise KeyError(name)
    dim, depth, heads = _DINOV2_SHAPES[arch]
    return ViTConfig(
        image_size=DINOV2_IMAGE_SIZE,
        patch_size=14,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        layer_scale_init=DINOV2_LAYER_SCALE,
        num_registers=DINOV2_NUM_REGISTERS if reg else 0,
    )


def _resolve_weights(spec: EncoderSpec, url: str, allow_download: bool) -> Path:
    """Checkpoint path from the spec, else the torch hub cache, else a download if allowed."""
    if spec.checkpoint is not None:
        return spec.checkpoint
    cached = torch_hub_cached_file(url)
    if cached is not None:
        return cached
    if allow_download:
        return download_to_torch_hub(url)
    raise MissingWeightsError(
        f"weights for '{spec}' are not in the local cache "
        f"({torch.hub.get_dir()}/checkpoints/{Path(url).name}). Download them once with internet access "
        f"({url}) and pass '{spec.kind}:{spec.name}@/path/to/file.pth', "
        "or call the builder with allow_download=True."
    )


def _load_vit(cfg: ViTConfig, path: Path, ignore: tuple[str, ...]) -> ViT:
    """A ViT holding the weights in ``path``, built without a wasted random init."""
    with torch.device("meta"):
        model = ViT(cfg)
    load_into(model, load_weights_file(path), source=str(path), ignore=ignore)
    return model


def dino_config(name: str) -> ViTConfig:
    """The ViT shape of a DINO v1 model name such as ``dino_vits8``."""
    m = DINO_MODELS[name]
    return ViTConfig(
        image_size=DINO_IMAGE_SIZE,
        patch_size=m.patch_size,
        embed_dim=m.embed_dim,
        depth=m.depth,
        num_heads=m.num_heads,
    )


def build_dino(
    spec: EncoderSpec,
    device: torch.device | str,
    dtype: torch.dtype,
    target_size: int | None = None,
    allow_download: bool = False,
) -> ViTDenseEncoder:
    """A DINO v1 ViT as a dense encoder."""
    if spec.name not in DINO_MODELS:
        raise unknown_name_error(spec, list(DINO_MODELS))
    cfg = dino_config(spec.name)
    path = _resolve_weights(spec, DINO_URL.format(stem=DINO_MODELS[spec.name].file_stem), allow_download)
    # Official DINO files hold the backbone only; timm state dicts may add a classifier head.
    model = _load_vit(cfg, path, ignore=("head.weight", "head.bias"))
    return ViTDenseEncoder(
        name=str(spec),
        backbone=model,
        patch_size=cfg.patch_size,
        feature_dim=cfg.embed_dim,
        target_size=target_size or DINO_DEFAULT_TARGET_SIZE,
        device=device,
        dtype=dtype,
    )


def build_dinov2(
    spec: EncoderSpec,
    device: torch.device | str,
    dtype: torch.dtype,
    target_size: int | None = None,
    allow_download: bool = False,
) -> ViTDenseEncoder:
    """A DINOv2 ViT (plain torch, official checkpoint keys) as a dense encoder."""
    try:
        cfg = dinov2_config(spec.name)
    except KeyError:
        raise unknown_name_error(spec, dinov2_names()) from None
    arch = spec.name.partition("_")[0]
    url = DINOV2_URL.format(arch=arch, reg="_reg4" if cfg.num_registers else "")
    path = _resolve_weights(spec, url, allow_download)
    # mask_token is only used by DINOv2's masked-image training objective.
    model = _load_vit(cfg, path, ignore=("mask_token",))
    return ViTDenseEncoder(
        name=str(spec),
        backbone=model,
        patch_size=cfg.patch_size,
        feature_dim=cfg.embed_dim,
        target_size=target_size or DINO_DEFAULT_TARGET_SIZE,
        device=device,
        dtype=dtype,
        num_registers=cfg.num_registers,
    )
