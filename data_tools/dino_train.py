"""DINO self-distillation of the dense tower on renders of generated rooms (Caron et al. 2021).

A student and an EMA teacher with the same ViT see differently augmented crops of one view: two
global crops (the teacher sees only these) and several small local crops. The student is trained
to predict the teacher's centred, sharpened distribution over prototypes from every other crop.
The teacher's backbone is what gets saved: its patch tokens are the dense "DINO maps".
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import nn
from tqdm import tqdm

from data_tools.instance_contrast import instance_contrast, patch_ids
from data_tools.tower_augment import (
    SHRINK_SUPERSAMPLE,
    ColorJitterConfig,
    color_jitter,
    crop_resize,
    gaussian_blur,
    hflip,
    mirror,
    random_boxes,
    solarize,
    to_network,
)
from lerf3d.encoders.tiny import TINY_INPUT_SIZE, tiny_dense_vit
from lerf3d.encoders.vit import ViT

LOCAL_CROP_SIZE = TINY_INPUT_SIZE // 2
"""Local crops at half the global side (DINO: 96 px locals for 224 px globals, about 0.43)."""


@dataclass(frozen=True)
class DinoConfig:
    """DINO training of the dense tower (defaults follow the paper, scaled to minutes of CPU)."""

    steps: int = 400
    """Optimiser steps."""
    batch_size: int = 48
    """Views per step (each gives 2 global + ``num_local`` local crops)."""
    lr: float = 5e-4
    """Peak AdamW learning rate (DINO: 5e-4 x batch / 256; kept at 5e-4 for a run this short)."""
    min_lr: float = 1e-5
    """Learning rate at the end of the cosine decay."""
    warmup_fraction: float = 0.1
    """Share of steps with linear learning-rate warm-up (DINO: 10 of 100 epochs)."""
    weight_decay: tuple[float, float] = (0.04, 0.4)
    """Weight decay, cosine from the first to the second value (DINO, Sec. 4 / Appendix)."""
    momentum: tuple[float, float] = (0.99, 1.0)
    """Teacher EMA momentum, cosine from the first to the second value (DINO: 0.996 -> 1 over
    hundreds of thousands of steps; 0.99 so the teacher moves within a few hundred)."""
    warmup_teacher_temp: float = 0.02
    """Teacher temperature at the start (DINO code: lower it if the loss does not decrease)."""
    teacher_temp: float = 0.04
    """Teacher temperature after warm-up (DINO default 0.04)."""
    teacher_temp_warmup_fraction: float = 0.3
    """Share of steps over which the teacher temperature rises linearly (DINO: 30 epochs)."""
    student_temp: float = 0.1
    """Student temperature (DINO: 0.1)."""
    center_momentum: float = 0.9
    """EMA momentum of the centre subtracted from teacher outputs (DINO: 0.9)."""
    out_dim: int = 2048
    """Prototypes of the projection head (DINO: 65536 for ImageNet; a few thousand here)."""
    hidden_dim: int = 512
    """Hidden width of the 3-layer head MLP (DINO: 2048)."""
    bottleneck_dim: int = 128
    """L2-normalised bottleneck before the prototypes (DINO: 256)."""
    num_local: int = 4
    """Local crops per view (DINO: 8 for its best runs, 2 x 224 + 6 x 96 in ablations)."""
    global_scale: tuple[float, float] = (0.3, 1.0)
    """Area share of a view covered by a global crop (DINO: 0.4-1 of an ImageNet photo; rooms
    are wide shots, so a bit smaller)."""
    local_scale: tuple[float, float] = (0.05, 0.3)
    """Area share covered by a local crop (DINO: 0.05-0.4)."""
    aspect: tuple[float, float] = (3 / 4, 4 / 3)
    """Aspect range of the random resized crops (Inception default)."""
    clip_grad: float = 3.0
    """Per-parameter gradient-norm clip (DINO: 3.0)."""
    freeze_last_layer_fraction: float = 0.05
    """Share of steps during which the prototypes do not learn (DINO: the first epoch)."""
    jitter: ColorJitterConfig = field(default_factory=ColorJitterConfig)
    """Colour distortion of every crop."""
    instance_weight: float = 0.0
    """Weight of the patch instance contrast (:mod:`data_tools.instance_contrast`) added to the DINO
    loss; 0 trains by DINO alone. Needs the views' instance masks."""
    instance_temp: float = 0.1
    """Temperature of the patch instance contrast (SupCon: 0.1)."""


class DinoHead(nn.Module):
    """3-layer MLP, L2-normalised bottleneck, then weight-normalised prototypes of norm 1."""

    def __init__(self, in_dim: int, cfg: DinoConfig) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, cfg.hidden_dim),
            nn.GELU(),
            nn.Linear(cfg.hidden_dim, cfg.hidden_dim),
            nn.GELU(),
            nn.Linear(cfg.hidden_dim, cfg.bottleneck_dim),
        )
        self.prototypes = nn.Parameter(torch.empty(cfg.out_dim, cfg.bottleneck_dim))
        nn.init.trunc_normal_(self.prototypes, std=0.02)

    def forward(self, x: Float[torch.Tensor, "B D"]) -> Float[torch.Tensor, "B K"]:
        # DINO's norm_last_layer=True: weight norm with the gain fixed to 1, which keeps training stable
        return F.normalize(self.mlp(x), dim=-1) @ F.normalize(self.prototypes, dim=-1).T


class DinoModel(nn.Module):
    """Backbone + head; the backbone runs at any multiple of its patch size."""

    def __init__(self, backbone: ViT, cfg: DinoConfig) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = DinoHead(backbone.cfg.embed_dim, cfg)

    def forward(self, x: Float[torch.Tensor, "B 3 H W"]) -> Float[torch.Tensor, "B K"]:
        return self.head(self.backbone(x))


def dino_loss(
    student: Float[torch.Tensor, "Vs B K"],
    teacher: Float[torch.Tensor, "Vt B K"],
    center: Float[torch.Tensor, "K"],
    teacher_temp: float,
    student_temp: float,
) -> torch.Tensor:
    """Cross-entropy from every teacher (global) view to every other student view, averaged."""
    targets = F.softmax((teacher - center) / teacher_temp, dim=-1)  # (Vt, B, K)
    log_probs = F.log_softmax(student / student_temp, dim=-1)  # (Vs, B, K)
    total, pairs = student.new_zeros(()), 0
    for t in range(teacher.shape[0]):
        for s in range(student.shape[0]):
            if s == t:  # the same global crop: nothing to predict
                continue
            total = total + (-targets[t] * log_probs[s]).sum(dim=-1).mean()
            pairs += 1
    return total / pairs


def cosine(step: int, steps: int, start: float, end: float) -> float:
    """Cosine schedule from ``start`` (step 0) to ``end`` (last step)."""
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * step / max(steps - 1, 1)))


def lr_at(step: int, steps: int, peak: float, low: float, warmup_fraction: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to ``low``."""
    warm = max(1, int(warmup_fraction * steps))
    if step < warm:
        return peak * (step + 1) / warm
    return cosine(step - warm, steps - warm, peak, low)


def multi_crop(
    views: torch.Tensor, cfg: DinoConfig, gen: torch.Generator, masks: torch.Tensor | None = None
) -> tuple[Float[torch.Tensor, "2B 3 S S"], Float[torch.Tensor, "LB 3 s s"], torch.Tensor | None]:
    """Two global and ``num_local`` local augmented crops per uint8 view (DINO's augmentations),
    and with the views' (B, h, w) instance ``masks`` the instance id of every global-crop patch
    ((2B, P), crops in the order of the images; else None)."""
    b, _, h, w = views.shape
    images = views.float() / 255.0
    idx = torch.arange(b)
    globals_, ids = [], []
    for g, (blur_p, solar_p) in enumerate(((1.0, 0.0), (0.1, 0.2))):  # DINO: asymmetric global views
        boxes = random_boxes(b, h, w, cfg.global_scale, cfg.aspect, gen)
        x = crop_resize(images, idx, boxes, TINY_INPUT_SIZE, SHRINK_SUPERSAMPLE)
        flips = torch.rand(b, generator=gen) < 0.5
        if masks is not None:
            ids.append(patch_ids(masks, idx, boxes, flips, TINY_INPUT_SIZE // tiny_dense_vit().patch_size))
        x = color_jitter(mirror(x, flips), cfg.jitter, gen)
        globals_.append(solarize(gaussian_blur(x, blur_p, (0.1, 1.0), gen), solar_p, gen))
    local_idx = idx.repeat(cfg.num_local)
    boxes = random_boxes(b * cfg.num_local, h, w, cfg.local_scale, cfg.aspect, gen)
    x = crop_resize(images, local_idx, boxes, LOCAL_CROP_SIZE, SHRINK_SUPERSAMPLE)
    x = color_jitter(hflip(x, 0.5, gen), cfg.jitter, gen)
    local = gaussian_blur(x, 0.5, (0.1, 1.0), gen)
    return to_network(torch.cat(globals_)), to_network(local), torch.cat(ids) if ids else None


def param_groups(model: nn.Module) -> list[dict]:
    """Biases and norm gains are not weight-decayed (DINO's ``get_params_groups``)."""
    decay, plain = [], []
    for name, p in model.named_parameters():
        (plain if p.ndim <= 1 or name.endswith(".bias") or "token" in name or "pos_embed" in name else decay).append(p)
    return [{"params": decay}, {"params": plain, "weight_decay": 0.0}]


@dataclass(frozen=True, eq=False)
class DinoResult:
    """What :func:`train_dino` returns."""

    teacher: ViT
    """The teacher's backbone (the dense tower)."""
    losses: list[float]
    """DINO loss per step (without the instance contrast)."""
    seconds: float
    """Wall time of training."""
    instance_losses: list[float] = field(default_factory=list)
    """Patch instance-contrast loss per step (empty when it is off)."""


def train_dino(
    views: torch.Tensor, cfg: DinoConfig, seed: int, masks: torch.Tensor | None = None, device: str = "cpu"
) -> DinoResult:
    """Train a dense tower on (V, 3, h, w) uint8 views; ``masks`` are their (V, h, w) instance
    masks, needed when ``cfg.instance_weight`` is above 0. On another ``device`` only the networks
    run there (crops are drawn on the CPU with the seeded generator); the tower comes back on the CPU."""
    if cfg.instance_weight > 0 and (masks is None or masks.shape[0] != views.shape[0]):
        raise ValueError("DinoConfig.instance_weight > 0 needs one instance mask per training view")
    use_masks = masks if cfg.instance_weight > 0 else None
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    student = DinoModel(ViT(tiny_dense_vit()), cfg).to(device)
    teacher = copy.deepcopy(student).requires_grad_(False)
    center = torch.zeros(cfg.out_dim, device=device)
    opt = torch.optim.AdamW(param_groups(student), lr=cfg.lr)
    s_params, t_params = list(student.parameters()), list(teacher.parameters())
    losses, instance_losses, start = [], [], time.perf_counter()
    prefix = 1 + student.backbone.cfg.num_registers
    bar = tqdm(range(cfg.steps), desc="DINO dense tower", mininterval=5.0)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg.steps, cfg.lr, cfg.min_lr, cfg.warmup_fraction)
        opt.param_groups[0]["weight_decay"] = cosine(step, cfg.steps, *cfg.weight_decay)
        pick = torch.randint(len(views), (cfg.batch_size,), generator=gen)
        global_x, local_x, ids = multi_crop(views[pick], cfg, gen, None if use_masks is None else use_masks[pick])
        global_x, local_x = global_x.to(device), local_x.to(device)
        with torch.no_grad():
            t_out = teacher(global_x).view(2, cfg.batch_size, -1)  # (2, B, K)
        tokens = student.backbone.forward_tokens(global_x)  # (2B, T, D): class, registers, patches
        s_out = torch.cat([student.head(tokens[:, 0]), student(local_x)]).view(2 + cfg.num_local, cfg.batch_size, -1)
        warm = max(1, int(cfg.teacher_temp_warmup_fraction * cfg.steps))
        t_temp = cfg.teacher_temp + (cfg.warmup_teacher_temp - cfg.teacher_temp) * max(0.0, 1 - step / warm)
        loss = dino_loss(s_out, t_out, center, t_temp, cfg.student_temp)
        losses.append(loss.item())
        if ids is not None:  # both global crops of a view contrast together: (B, 2P, D) and (B, 2P)
            patches = tokens[:, prefix:].unflatten(0, (2, cfg.batch_size)).transpose(0, 1).flatten(1, 2)
            view_ids = ids.to(device).unflatten(0, (2, cfg.batch_size)).transpose(0, 1).flatten(1)
            contrast = instance_contrast(patches, view_ids, cfg.instance_temp)
            instance_losses.append(contrast.item())
            loss = loss + cfg.instance_weight * contrast
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for p in s_params:
            if p.grad is not None:
                torch.nn.utils.clip_grad_norm_([p], cfg.clip_grad)
        if step < cfg.freeze_last_layer_fraction * cfg.steps:
            student.head.prototypes.grad = None
        opt.step()
        with torch.no_grad():
            m = cosine(step, cfg.steps, *cfg.momentum)
            torch._foreach_mul_(t_params, m)
            torch._foreach_add_(t_params, s_params, alpha=1 - m)
            center.mul_(cfg.center_momentum).add_(t_out.mean(dim=(0, 1)), alpha=1 - cfg.center_momentum)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return DinoResult(teacher.backbone.cpu().eval(), losses, time.perf_counter() - start, instance_losses)
