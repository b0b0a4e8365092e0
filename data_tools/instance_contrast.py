"""Patch-level instance contrast for the dense tower: which object each patch of a crop shows, and
a supervised contrastive loss that pulls the patch tokens of one object together and pushes them
from the other objects of the same view.

DINO's image-level objective alone leaves the tiny dense tower's patch tokens no better at telling
objects apart than random weights of the same shape (the tower card). The renders come with exact
instance masks, so the patches of two global crops of one view can be grouped by the instance they
show (Khosla et al. 2020's supervised contrastive loss, applied per view to patch tokens as in
dense contrastive pre-training). Only instance identity is used, never labels: the loss teaches
"same thing / different thing", which is what the objects layer asks of the DINO head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int

from lerf3d.ground_truth import load_ground_truth

NO_INSTANCE = 0
"""Mask value of pixels that show no instance (never an anchor or a positive)."""


def centre_sample(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    """(h, w) ids of an (H, W) instance mask read at the centres of an h x w grid laid over it
    (nearest: ids are never averaged)."""
    ys = ((np.arange(h) + 0.5) * mask.shape[0] / h).astype(int)
    xs = ((np.arange(w) + 0.5) * mask.shape[1] / w).astype(int)
    return mask[np.ix_(ys, xs)]


def room_masks(room_dir: Path, size: tuple[int, int]) -> Int[torch.Tensor, "V h w"]:
    """(V, h, w) int16 instance masks of a room's views (sorted by frame name, as
    :func:`data_tools.tower_data.room_views` orders the views) at ``size`` = (h, w), sampled at the
    pixel centres of the smaller grid (nearest: ids are not averaged)."""
    gt = load_ground_truth(room_dir)
    out = []
    for frame in sorted(gt.mask_paths):
        small = centre_sample(gt.load_mask(frame), *size)
        if small.max(initial=0) > np.iinfo(np.int16).max:
            raise ValueError(f"{room_dir}: frame {frame} has instance ids above {np.iinfo(np.int16).max}")
        out.append(torch.from_numpy(small.astype(np.int16)))
    return torch.stack(out)


def patch_ids(
    masks: Int[torch.Tensor, "V h w"],
    index: torch.Tensor,
    boxes: Float[torch.Tensor, "n 4"],
    flips: torch.Tensor,
    grid: int,
) -> Int[torch.Tensor, "n P"]:
    """Instance id at the centre of each patch of crop ``k`` (box ``boxes[k]`` = x1, y1, x2, y2 in
    pixels of view ``index[k]``, mirrored when ``flips[k]``) on a ``grid`` x ``grid`` patch grid,
    row-major as the ViT orders its patch tokens."""
    _, h, w = masks.shape
    t = (torch.arange(grid, dtype=boxes.dtype) + 0.5) / grid  # patch centres in [0, 1] of the box
    xs = boxes[:, 0:1] + t * (boxes[:, 2:3] - boxes[:, 0:1])  # (n, grid) pixel x
    ys = boxes[:, 1:2] + t * (boxes[:, 3:4] - boxes[:, 1:2])  # (n, grid) pixel y
    xs = torch.where(flips[:, None], xs.flip(-1), xs)  # a mirrored crop's first column is the box's right edge
    cols = xs.floor().long().clamp(0, w - 1)
    rows = ys.floor().long().clamp(0, h - 1)
    picked = masks[index[:, None, None], rows[:, :, None], cols[:, None, :]]  # (n, grid, grid)
    return picked.reshape(len(boxes), grid * grid).long()


def instance_contrast(
    tokens: Float[torch.Tensor, "B T D"], ids: Int[torch.Tensor, "B T"], temperature: float
) -> torch.Tensor:
    """Supervised contrastive loss over the patch tokens of each view (all its crops together).

    For an anchor patch, the positives are the other patches of the same instance in the same view,
    the candidates every other patch of that view: loss = - mean over positives of
    log(exp(s_ip / t) / sum over candidates a of exp(s_ia / t)), s the cosine similarity. Anchors
    without a positive (or on :data:`NO_INSTANCE`) do not count; a batch without any gives 0.
    """
    z = F.normalize(tokens.float(), dim=-1)
    logits = z @ z.transpose(1, 2) / temperature  # (B, T, T)
    eye = torch.eye(tokens.shape[1], dtype=torch.bool, device=tokens.device)
    logits = logits.masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=-1, keepdim=True)  # (B, T, T)
    valid = ids != NO_INSTANCE
    positive = (ids[:, :, None] == ids[:, None, :]) & valid[:, :, None] & ~eye  # (B, T, T)
    counts = positive.sum(dim=-1)  # (B, T)
    anchors = counts > 0
    if not anchors.any():
        return tokens.new_zeros(())
    per_anchor = -(log_prob.masked_fill(~positive, 0.0)).sum(dim=-1) / counts.clamp_min(1)
    return per_anchor[anchors].mean()
