"""A plain-torch Vision Transformer whose parameter names match DINO/DINOv2 checkpoints and timm.

Used for DINOv2 (timm 0.6.7 has no DINOv2 models) and for the embedded ``lerf3d:tiny`` towers.
Parameter names follow the official DINOv2 release (``cls_token``, ``pos_embed``,
``register_tokens``, ``patch_embed.proj``, ``blocks.{i}.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,
mlp.fc1,mlp.fc2,ls2.gamma}``, ``norm``), which are also timm's ``VisionTransformer`` names, so
:func:`vit_tokens` runs either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import nn

VIT_INIT_STD = 0.02
"""Std of the truncated-normal init of tokens and linear weights (ViT paper / timm default)."""


@dataclass(frozen=True)
class ViTConfig:
    """Shape of a ViT encoder."""

    image_size: int = 224
    """Side in pixels the positional embedding grid was made for (518 for DINOv2)."""
    patch_size: int = 16
    """Side of a square patch in pixels."""
    embed_dim: int = 384
    """Token width."""
    depth: int = 12
    """Number of transformer blocks."""
    num_heads: int = 6
    """Attention heads per block."""
    mlp_ratio: float = 4.0
    """Hidden width of the MLP relative to ``embed_dim``."""
    layer_scale_init: float | None = None
    """Initial LayerScale value (DINOv2: 1e-5); None means no LayerScale (DINO v1)."""
    num_registers: int = 0
    """Register tokens after the class token (DINOv2 "with registers": 4)."""
    norm_eps: float = 1e-6
    """LayerNorm epsilon (DINO, DINOv2 and timm ViTs use 1e-6)."""

    @property
    def grid_size(self) -> int:
        """Patches per side of the positional embedding grid."""
        return self.image_size // self.patch_size


class PatchEmbed(nn.Module):
    """Non-overlapping patches to tokens by a strided convolution."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Float[torch.Tensor, "B T D"]) -> Float[torch.Tensor, "B T D"]:
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.num_heads, d // self.num_heads)  # (B, T, 3, nh, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, T, hs)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, t, d))  # (B, T, D)


class Mlp(nn.Module):
    """Two-layer GELU MLP."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """Per-channel residual scaling (CaiT; DINOv2 uses it in every block)."""

    def __init__(self, dim: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.attn = Attention(dim, cfg.num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self.mlp = Mlp(dim, int(dim * cfg.mlp_ratio))
        scale = cfg.layer_scale_init
        self.ls1 = LayerScale(dim, scale) if scale is not None else nn.Identity()
        self.ls2 = LayerScale(dim, scale) if scale is not None else nn.Identity()

    def forward(self, x: Float[torch.Tensor, "B T D"]) -> Float[torch.Tensor, "B T D"]:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class ViT(nn.Module):
    """Vision Transformer backbone (no classification head)."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.embed_dim
        self.patch_embed = PatchEmbed(cfg.patch_size, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + cfg.grid_size**2, dim))
        if cfg.num_registers:
            self.register_tokens = nn.Parameter(torch.zeros(1, cfg.num_registers, dim))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(dim, eps=cfg.norm_eps)
        self._init_weights()

    def _init_weights(self) -> None:
        for p in (self.cls_token, self.pos_embed, getattr(self, "register_tokens", None)):
            if p is not None:
                nn.init.trunc_normal_(p, std=VIT_INIT_STD)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=VIT_INIT_STD)
                nn.init.zeros_(m.bias)

    def forward_tokens(self, x: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B T D"]:
        """Final normalised tokens: class, registers, then patches in row-major order."""
        return vit_tokens(self, x, self.cfg.patch_size, self.cfg.num_registers)

    def patch_tokens(self, x: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B h w D"]:
        """Patch tokens on their grid; H and W must be multiples of the patch size."""
        num_prefix = 1 + self.cfg.num_registers
        return patch_token_grid(self.forward_tokens(x), x.shape, self.cfg.patch_size, num_prefix)

    def forward(self, x: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B D"]:
        """The class-token embedding."""
        return self.forward_tokens(x)[:, 0]


def resample_pos_embed(
    grid_pos: Float[torch.Tensor, "1 N D"], rows: int, cols: int
) -> Float[torch.Tensor, "1 M D"]:
    """Bicubically resample a square positional-embedding grid to ``rows x cols`` patches.

    DINOv2's own code nudges the scale factor by 0.1 patch, so at sizes other than 518 px its
    features differ slightly from these; at the native grid both are exact.
    """
    n, dim = grid_pos.shape[1], grid_pos.shape[2]
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"positional embedding has {n} patch positions, not a square grid")
    if (rows, cols) == (side, side):
        return grid_pos
    grid = grid_pos.reshape(1, side, side, dim).permute(0, 3, 1, 2)  # (1, D, side, side)
    grid = F.interpolate(grid.float(), size=(rows, cols), mode="bicubic", align_corners=False)
    return grid.to(grid_pos.dtype).permute(0, 2, 3, 1).reshape(1, rows * cols, dim)  # (1, rows*cols, D)


def vit_tokens(
    vit: nn.Module, x: Float[torch.Tensor, "B 3 H W"], patch_size: int, num_registers: int = 0
) -> Float[torch.Tensor, "B T D"]:
    """Run a ViT at any input size that is a multiple of its patch size.

    Works on any module with ``patch_embed.proj``, ``cls_token``, ``pos_embed`` (class position
    first), ``blocks``, ``norm`` and optionally ``register_tokens``: this class and timm's
    ``VisionTransformer`` (whose own forward asserts the training image size).
    """
    b, _, h, w = x.shape
    if h % patch_size or w % patch_size:
        raise ValueError(f"image size {h}x{w} is not a multiple of the patch size {patch_size}")
    patches = vit.patch_embed.proj(x)  # (B, D, h/p, w/p)
    rows, cols = patches.shape[-2:]
    patches = patches.flatten(2).transpose(1, 2)  # (B, rows*cols, D)
    pos = vit.pos_embed
    patches = patches + resample_pos_embed(pos[:, 1:], rows, cols)
    prefix = [vit.cls_token.expand(b, -1, -1) + pos[:, :1]]
    if num_registers:
        # Registers carry no position (DINOv2 "with registers", Darcet et al. 2023, Sec. 2).
        prefix.append(vit.register_tokens.expand(b, -1, -1))
    tokens = torch.cat([*prefix, patches], dim=1)  # (B, 1+R+rows*cols, D)
    for block in vit.blocks:
        tokens = block(tokens)
    return vit.norm(tokens)


def patch_token_grid(
    tokens: Float[torch.Tensor, "B T D"], image_shape: torch.Size, patch_size: int, num_prefix: int
) -> Float[torch.Tensor, "B h w D"]:
    """Drop the ``num_prefix`` leading tokens and lay the patch tokens on their grid."""
    rows, cols = image_shape[-2] // patch_size, image_shape[-1] // patch_size
    return tokens[:, num_prefix:].reshape(tokens.shape[0], rows, cols, tokens.shape[-1])  # (B, h, w, D)
