"""Volume rendering maths on hand-made densities."""

from __future__ import annotations

import math

import torch

from lerf3d.field.rendering import (
    accumulation,
    composite_features,
    composite_rgb,
    distance_to_z_depth,
    expected_distance,
    gather_samples,
    render_unit_embedding,
    top_k_weights,
    volume_weights,
)


def test_single_opaque_sample_takes_all_weight_and_depth():
    densities = torch.tensor([[0.0, 1e4, 0.0, 5.0]])
    deltas = torch.full((1, 4), 0.5)
    t_mids = torch.tensor([[0.25, 0.75, 1.25, 1.75]])
    vw = volume_weights(densities, deltas)
    torch.testing.assert_close(vw.weights, torch.tensor([[0.0, 1.0, 0.0, 0.0]]))
    torch.testing.assert_close(vw.transmittance, torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
    assert accumulation(vw.weights).item() == 1.0
    assert expected_distance(vw.weights, t_mids).item() == 0.75
    rgb = torch.tensor([[[1.0, 0, 0], [0.2, 0.4, 0.6], [0, 1.0, 0], [0, 0, 1.0]]])
    torch.testing.assert_close(composite_rgb(vw.weights, rgb, torch.ones(3)), torch.tensor([[0.2, 0.4, 0.6]]))


def test_uniform_density_gives_analytic_transmittance():
    sigma, length, n = 2.0, 1.5, 300
    edges = torch.linspace(0.0, length, n + 1)[None]
    deltas = edges[:, 1:] - edges[:, :-1]
    vw = volume_weights(torch.full((1, n), sigma), deltas)
    torch.testing.assert_close(vw.transmittance, torch.exp(-sigma * edges[:, :-1]), atol=1e-6, rtol=1e-5)
    assert math.isclose(accumulation(vw.weights).item(), 1 - math.exp(-sigma * length), rel_tol=1e-5)
    # E[t | hit in [0, L]] for exponential attenuation: 1/sigma - L e^{-sigma L} / (1 - e^{-sigma L})
    t_mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
    expected = 1 / sigma - length * math.exp(-sigma * length) / (1 - math.exp(-sigma * length))
    assert math.isclose(expected_distance(vw.weights, t_mids).item(), expected, rel_tol=1e-3)


def test_empty_ray_shows_background_and_depth_stays_in_range():
    vw = volume_weights(torch.zeros(2, 3), torch.ones(2, 3))
    background = torch.tensor([0.1, 0.2, 0.3])
    torch.testing.assert_close(
        composite_rgb(vw.weights, torch.rand(2, 3, 3), background), background.expand(2, 3)
    )
    t_mids = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    torch.testing.assert_close(expected_distance(vw.weights, t_mids), torch.tensor([1.0, 4.0]))


def test_z_depth_is_ray_distance_times_cosine():
    torch.testing.assert_close(
        distance_to_z_depth(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 0.5])), torch.tensor([2.0, 2.0])
    )


def test_top_k_renormalises_and_reports_indices():
    weights = torch.tensor([[0.1, 0.5, 0.2, 0.05], [0.0, 0.0, 0.0, 0.0]])
    top, index = top_k_weights(weights, k=2)
    order = index[0].argsort()
    assert index[0][order].tolist() == [1, 2]
    torch.testing.assert_close(top[0][order], torch.tensor([0.5 / 0.7, 0.2 / 0.7]))
    torch.testing.assert_close(top[1], torch.tensor([0.5, 0.5]))  # nothing hit: uniform
    top, index = top_k_weights(weights, k=24)  # capped at the sample count
    assert top.shape == (2, 4)


def test_gather_and_language_rendering():
    embeds = torch.nn.functional.normalize(torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]), dim=-1)
    index = torch.tensor([[0, 1]])
    picked = gather_samples(embeds, index)
    torch.testing.assert_close(picked, embeds[:, :2])
    out = render_unit_embedding(torch.tensor([[0.75, 0.25]]), picked)
    torch.testing.assert_close(out, torch.nn.functional.normalize(torch.tensor([[0.75, 0.25]]), dim=-1))
    assert math.isclose(out.norm().item(), 1.0, rel_tol=1e-6)
    torch.testing.assert_close(
        composite_features(torch.tensor([[0.5, 0.5, 0.0]]), embeds), torch.tensor([[0.5, 0.5]])
    )


def test_weights_gradient_reaches_densities():
    densities = torch.tensor([[0.5, 1.0, 2.0]], requires_grad=True)
    vw = volume_weights(densities, torch.ones(1, 3))
    accumulation(vw.weights).sum().backward()
    # acc = 1 - exp(-sum sigma delta): d acc / d sigma_i = exp(-3.5) for every sample
    torch.testing.assert_close(densities.grad, torch.full((1, 3), math.exp(-3.5)))
