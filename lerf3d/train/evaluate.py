"""Held-out evaluation: render whole frames in chunks, PSNR and depth error, side-by-side previews."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lerf3d.atomic import atomic_path, write_json_atomic
from lerf3d.field.losses import psnr
from lerf3d.field.model import LerfField, RenderOutput, render_in_chunks
from lerf3d.train.datamanager import DataManager, EvalView
from lerf3d.types import Frame

DEPTH_COLOURS = np.array(
    [[48, 18, 59], [70, 134, 251], [27, 229, 181], [164, 252, 60], [251, 185, 56], [227, 69, 14], [122, 4, 3]],
    dtype=np.float32,
)
"""Anchor colours of the depth previews, near to far (samples of the Turbo colour map, Mikhailov 2019)."""
MISSING_DEPTH_COLOUR = (0, 0, 0)
"""Pixels without a measurement are black in the ground-truth depth preview."""


@dataclass(frozen=True)
class EvalConfig:
    """When and how held-out frames are evaluated."""

    every: int = 500
    """Steps between evaluations during training (the end of training is always evaluated)."""
    periodic_frames: int = 1
    """Held-out frames rendered at a periodic evaluation (all of them at the end)."""
    chunk_size: int = 8192
    """Rays rendered at once (bounds memory for whole images)."""
    guide_with_depth: bool = False
    """Place samples around the held-out frame's measured depth; False renders like a novel view
    (samples follow the fused occupancy grid), so the depth error is an honest prediction."""

    def __post_init__(self) -> None:
        if self.every < 1 or self.periodic_frames < 1 or self.chunk_size < 1:
            raise ValueError(
                f"eval every, periodic_frames and chunk_size must be >= 1, got "
                f"{self.every}, {self.periodic_frames}, {self.chunk_size}"
            )


@dataclass(frozen=True)
class FrameMetrics:
    """Scores of one rendered frame."""

    name: str
    """Frame name."""
    psnr: float
    """Colour PSNR (dB)."""
    depth_abs_error: float
    """Mean |rendered - measured| z-depth over pixels with a measurement (m); NaN without any."""


@dataclass(frozen=True)
class EvalResult:
    """Scores of an evaluation, per frame and averaged."""

    step: int
    """Training steps completed when it ran."""
    frames: tuple[FrameMetrics, ...]
    """Per-frame scores."""

    @property
    def psnr(self) -> float:
        """Mean PSNR over frames (dB)."""
        return float(np.mean([f.psnr for f in self.frames]))

    @property
    def depth_abs_error(self) -> float:
        """Mean over frames of the depth error (m)."""
        return float(np.nanmean([f.depth_abs_error for f in self.frames]))

    def scalars(self) -> dict[str, float]:
        return {"psnr": self.psnr, "depth_abs_error_m": self.depth_abs_error}


@torch.no_grad()
def render_view(model: LerfField, view: EvalView, chunk_size: int) -> RenderOutput:
    """Colour and depth of every pixel (no language: previews and metrics need none)."""
    return render_in_chunks(model, view.rays, chunk_size, with_language=False, jitter=False)


def frame_metrics(output: RenderOutput, view: EvalView) -> FrameMetrics:
    height, width = view.depth.shape
    rgb = output.rgb.cpu().reshape(height, width, 3)  # (H*W, 3) -> (H, W, 3)
    depth = output.depth.cpu().reshape(height, width)  # (H*W,) -> (H, W)
    measured = view.depth > 0
    error = (depth - view.depth).abs()[measured].mean().item() if measured.any() else float("nan")
    return FrameMetrics(view.name, float(psnr(rgb.clamp(0, 1), view.rgb)), error)


def colourise_depth(depth: np.ndarray, near: float, far: float) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) uint8 on the Turbo anchors; 0 (missing) drawn black."""
    t = np.clip((depth - near) / max(far - near, 1e-6), 0.0, 1.0) * (len(DEPTH_COLOURS) - 1)
    low = np.floor(t).astype(int).clip(0, len(DEPTH_COLOURS) - 2)
    frac = (t - low)[..., None]
    image = DEPTH_COLOURS[low] * (1 - frac) + DEPTH_COLOURS[low + 1] * frac
    image[depth <= 0] = MISSING_DEPTH_COLOUR
    return image.astype(np.uint8)


def preview_pair(output: RenderOutput, view: EvalView) -> tuple[np.ndarray, np.ndarray]:
    """[ground truth | rendered] colour and depth images, (H, 2W, 3) uint8 each, one depth scale."""
    height, width = view.depth.shape
    rgb = output.rgb.cpu().reshape(height, width, 3).clamp(0, 1).numpy()  # (H, W, 3)
    depth = output.depth.cpu().reshape(height, width).numpy()  # (H, W)
    truth = view.depth.numpy()
    valid = truth[truth > 0]
    near, far = (float(valid.min()), float(valid.max())) if valid.size else (float(depth.min()), float(depth.max()))
    colour = np.concatenate([view.rgb.numpy(), rgb], axis=1)
    depths = np.concatenate([colourise_depth(truth, near, far), colourise_depth(depth, near, far)], axis=1)
    return (colour * 255 + 0.5).astype(np.uint8), depths


def evaluate(
    model: LerfField,
    data: DataManager,
    frames: list[Frame],
    config: EvalConfig,
    step: int,
    preview_dir: Path | None = None,
) -> tuple[EvalResult, dict[str, np.ndarray]]:
    """Render ``frames``; return scores and previews (also written to ``preview_dir`` when given).

    Uses no random numbers (no jitter), so evaluating never changes what training does next.
    """
    was_training = model.training
    model.eval()
    scores, previews = [], {}
    try:
        for frame in frames:
            view = data.eval_view(frame, guide_with_depth=config.guide_with_depth)
            output = render_view(model, view, config.chunk_size)
            scores.append(frame_metrics(output, view))
            previews[f"{frame.name}_rgb"], previews[f"{frame.name}_depth"] = preview_pair(output, view)
    finally:
        model.train(was_training)
    result = EvalResult(step, tuple(scores))
    if preview_dir is not None:
        write_previews(result, previews, Path(preview_dir))
    return result, previews


def write_previews(result: EvalResult, previews: dict[str, np.ndarray], out_dir: Path) -> None:
    """PNG per preview and ``metrics.json``, each written atomically."""
    for name, image in previews.items():
        with atomic_path(out_dir / f"{name}.png") as tmp:
            Image.fromarray(image).save(tmp)
    write_json_atomic(
        out_dir / "metrics.json",
        {"step": result.step, **result.scalars(), "frames": [vars(f) for f in result.frames]},
    )
