"""Loss functions on hand-computed values."""

from __future__ import annotations

import math

import torch

from lerf3d.field.losses import (
    clip_loss,
    depth_l1_loss,
    dino_loss,
    free_space_loss,
    psnr,
    rgb_loss,
    surface_opacity_loss,
)


def test_rgb_loss_and_psnr():
    pred, target = torch.zeros(2, 3), torch.full((2, 3), 0.1)
    assert math.isclose(rgb_loss(pred, target).item(), 0.01, rel_tol=1e-6)
    assert math.isclose(psnr(pred, target).item(), 20.0, rel_tol=1e-5)


def test_depth_l1_ignores_missing_depth():
    loss = depth_l1_loss(torch.tensor([1.0, 2.0, 5.0]), torch.tensor([1.5, 0.0, 4.0]))
    assert math.isclose(loss.item(), 0.75)  # (0.5 + 1.0) / 2 rays with depth
    assert depth_l1_loss(torch.ones(2), torch.zeros(2)).item() == 0.0


def test_free_space_loss_penalises_weight_in_front_of_the_band():
    weights = torch.tensor([[0.3, 0.1, 0.6], [0.5, 0.5, 0.0]])
    t_ends = torch.tensor([[1.0, 1.9, 2.5], [1.0, 2.0, 3.0]])
    surface_t, band = torch.tensor([2.0, 2.0]), torch.tensor([0.1, 0.1])
    # ray 0: bins ending at 1.0 and 1.9 (<= 1.9) are in front: 0.09 + 0.01; ray 1 has no depth
    loss = free_space_loss(weights, t_ends, surface_t, band, torch.tensor([True, False]))
    assert math.isclose(loss.item(), 0.1, rel_tol=1e-6)


def test_surface_opacity_loss_wants_the_ray_to_end_in_the_band():
    weights = torch.tensor([[0.2, 0.3, 0.1], [0.0, 1.0, 0.0]])
    t_mids = torch.tensor([[1.0, 2.0, 2.05], [1.0, 2.0, 3.0]])
    surface_t, band = torch.tensor([2.0, 2.0]), torch.tensor([0.1, 0.1])
    loss = surface_opacity_loss(weights, t_mids, surface_t, band, torch.tensor([True, True]))
    assert math.isclose(loss.item(), ((1 - 0.4) ** 2 + 0.0) / 2, rel_tol=1e-6)


def test_clip_loss_is_lerf_huber_summed_over_dims():
    pred = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    target = torch.tensor([[1.0, 2.0], [float("nan"), 0.0]])
    # Huber(delta 1.25): 0.5 * 1^2 = 0.5 ; 1.25 * (2 - 0.625) = 1.71875 ; NaN ray skipped
    assert math.isclose(clip_loss(pred, target).item(), 0.1 * (0.5 + 1.71875), rel_tol=1e-6)


def test_dino_loss_sums_squared_error_over_dims():
    loss = dino_loss(torch.zeros(2, 3), torch.tensor([[1.0, 1.0, 1.0], [0.0, 2.0, 0.0]]))
    assert math.isclose(loss.item(), (3.0 + 4.0) / 2)
