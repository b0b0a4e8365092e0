"""Pure pieces of the trainer: optimisers and schedules, loss assembly, evaluation maths, previews."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lerf3d.field.model import RenderOutput
from lerf3d.field.rays import RayBundle
from lerf3d.field.sampling import RaySamples
from lerf3d.train import LossConfig, OptimConfig, OptimiserConfig, TrainBatch, compute_losses
from lerf3d.train.datamanager import EvalView
from lerf3d.train.evaluate import EvalResult, FrameMetrics, colourise_depth, frame_metrics, preview_pair
from lerf3d.train.optimisers import build_optimisers


def test_two_optimisers_with_their_own_schedules():
    radiance, language = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    optim = build_optimisers({"radiance": [radiance], "language": [language]}, OptimConfig(), total_steps=10)
    assert type(optim.optimisers["radiance"]) is torch.optim.Adam
    assert type(optim.optimisers["language"]) is torch.optim.RAdam
    for _ in range(10):
        (radiance.sum() + language.sum()).backward()
        optim.step()
        optim.zero_grad()
    lrs = optim.learning_rates()
    assert lrs["radiance"] == pytest.approx(1e-4) and lrs["language"] == pytest.approx(1e-3)  # nerfacto, LERF
    optim.set_total_steps(20)  # a resumed run asking for more steps: halfway in log space now
    assert optim.learning_rates()["radiance"] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="no optimiser config for parameter group"):
        build_optimisers({"other": [radiance]}, OptimConfig(), 10)
    with pytest.raises(ValueError, match="lr and lr_final must be positive"):
        OptimiserConfig(lr=0.0)


def _render(rgb, depth, clip=None, dino=None) -> RenderOutput:
    r = rgb.shape[0]
    edges = torch.linspace(1.0, 3.0, 5).expand(r, 5)
    weights = torch.tensor([0.0, 0.0, 1.0, 0.0]).expand(r, 4)
    samples = RaySamples(edges, torch.full((r,), 2.25), torch.full((r,), 0.25), torch.ones(r, dtype=torch.bool))
    return RenderOutput(rgb, depth, depth, torch.ones(r), weights, samples, clip, dino)


def _batch(rgb, depth, clip=None, dino=None) -> TrainBatch:
    r = rgb.shape[0]
    ones, zeros = torch.ones(r), torch.zeros(r)
    rays = RayBundle(torch.zeros(r, 3), torch.tensor([[0.0, 0.0, 1.0]]).expand(r, 3), ones, zeros, 4 * ones, depth=depth)
    return TrainBatch(rays, rgb, torch.zeros(r, 2), zeros, zeros, clip, dino)


def test_losses_weighted_and_summed():
    rgb, depth = torch.full((4, 3), 0.5), torch.full((4,), 2.25)
    clip, dino = torch.nn.functional.normalize(torch.ones(4, 8), dim=-1), torch.ones(4, 6)
    terms = compute_losses(_render(rgb + 0.1, depth + 0.2, clip, dino + 1.0), _batch(rgb, depth, clip, dino), LossConfig())
    assert terms.rgb.item() == pytest.approx(0.01)
    assert terms.depth.item() == pytest.approx(0.1 * 0.2)
    assert terms.free_space.item() == 0.0 and terms.surface.item() == pytest.approx(0.0)
    assert terms.clip.item() == pytest.approx(0.0) and terms.dino.item() == pytest.approx(6.0)  # squared error summed
    assert terms.total.item() == pytest.approx(0.01 + 0.02 + 6.0)
    assert terms.psnr.item() == pytest.approx(20.0)
    no_language = compute_losses(_render(rgb, depth), _batch(rgb, depth, clip, dino), LossConfig())
    assert no_language.clip is None and no_language.dino is None and set(no_language.scalars()) == {
        "total", "rgb", "depth", "free_space", "surface", "psnr"}
    with pytest.raises(ValueError, match="loss weight dino must be >= 0"):
        LossConfig(dino=-1)


def test_frame_metrics_and_previews():
    truth = torch.rand(4, 5, 3)
    depth = torch.full((4, 5), 2.0)
    depth[0, 0] = 0.0  # no measurement: not scored, drawn black
    view = EvalView("f", None, truth, depth)
    rendered = RenderOutput((truth + 0.1).clamp(0, 1).reshape(20, 3), torch.full((20,), 2.5), torch.zeros(20), torch.ones(20))
    metrics = frame_metrics(rendered, view)
    expected = -10 * math.log10(float(((truth + 0.1).clamp(0, 1) - truth).square().mean()))
    assert metrics.psnr == pytest.approx(expected, rel=1e-5) and metrics.depth_abs_error == pytest.approx(0.5)
    colour, depths = preview_pair(rendered, view)
    assert colour.shape == depths.shape == (4, 10, 3) and colour.dtype == np.uint8
    assert tuple(depths[0, 0]) == (0, 0, 0) and tuple(depths[1, 1]) != (0, 0, 0)
    result = EvalResult(3, (metrics, FrameMetrics("g", 10.0, float("nan"))))
    assert result.depth_abs_error == pytest.approx(0.5) and result.psnr == pytest.approx((metrics.psnr + 10) / 2)


def test_depth_colours_run_near_to_far():
    image = colourise_depth(np.array([[1.0, 2.0, 3.0, 0.0]]), near=1.0, far=3.0)
    assert tuple(image[0, 0]) == (48, 18, 59) and tuple(image[0, 2]) == (122, 4, 3) and tuple(image[0, 3]) == (0, 0, 0)
