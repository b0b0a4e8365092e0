"""Relevancy and scale search on hand-made embeddings (closed forms worked out in the comments)."""

import math

import pytest
import torch

from lerf3d.query.relevancy import (
    CANONICAL_NEGATIVES,
    NEUTRAL_RELEVANCY,
    RELEVANCY_TEMPERATURE,
    RelevancyMap,
    best_scale,
    hardest_negative,
    relevancy,
    scale_statistic,
    select_scale,
)


def _basis(dim: int) -> torch.Tensor:
    return torch.eye(dim)


def _softmax_reference(phi, q, c, tau=RELEVANCY_TEMPERATURE):
    """The literal LERF formula: one two-way softmax per negative, minimum of positive probabilities."""
    probs = []
    for k in range(c.shape[0]):
        logits = tau * torch.stack([phi @ q.T, (phi @ c[k]).unsqueeze(-1).expand(-1, q.shape[0])], -1)
        probs.append(logits.softmax(-1)[..., 0])
    return torch.stack(probs, -1).amin(-1)


def test_constants_match_the_paper():
    assert CANONICAL_NEGATIVES == ("object", "things", "stuff", "texture")
    assert RELEVANCY_TEMPERATURE == 10.0


def test_embedding_equal_to_query_scores_above_half_and_matches_closed_form():
    e = _basis(4)
    q = e[0:1]
    # negative c = (e0 + e1)/sqrt(2): phi.q = 1, phi.c = 1/sqrt(2)
    c = ((e[0] + e[1]) / math.sqrt(2)).unsqueeze(0)
    r = relevancy(q, q, c)
    expected = 1 / (1 + math.exp(-10 * (1 - 1 / math.sqrt(2))))  # = 0.9492...
    assert r.shape == (1, 1)
    assert r.item() > 0.5
    assert r.item() == pytest.approx(expected, abs=1e-6)
    assert r.item() == pytest.approx(0.94924, abs=1e-4)


def test_orthogonal_embedding_is_exactly_neutral():
    e = _basis(6)
    phi, q, c = e[5:6], e[0:2], e[2:5]
    r = relevancy(phi, q, c)
    assert torch.equal(r, torch.full((1, 2), NEUTRAL_RELEVANCY))


def test_min_over_negatives_is_the_hardest_negative():
    e = _basis(4)
    phi = ((e[0] + e[1] + e[2]) / math.sqrt(3)).unsqueeze(0)
    q = e[0:1]
    # two negatives: weak (phi.c = 0.2/sqrt(3)-ish) and hard (phi.c = 1/sqrt(3), same as phi.q)
    weak = torch.nn.functional.normalize(e[1] * 0.2 + e[3], dim=0)
    hard = e[2]
    c = torch.stack([weak, hard])
    r = relevancy(phi, q, c)
    assert hardest_negative(phi, c).item() == 1
    # phi.q == phi.hard -> exactly neutral; the weak negative alone would give more
    assert r.item() == pytest.approx(0.5, abs=1e-6)
    assert relevancy(phi, q, weak.unsqueeze(0)).item() > 0.6
    torch.testing.assert_close(r, relevancy(phi, q, hard.unsqueeze(0)))


def test_matches_literal_softmax_formula_on_random_unit_vectors():
    g = torch.Generator().manual_seed(0)
    unit = lambda *s: torch.nn.functional.normalize(torch.randn(*s, generator=g), dim=-1)  # noqa: E731
    phi, q, c = unit(50, 8), unit(3, 8), unit(4, 8)
    torch.testing.assert_close(relevancy(phi, q, c), _softmax_reference(phi, q, c))
    assert hardest_negative(phi, c).shape == (50,)


def test_several_positives_and_image_shaped_batches():
    g = torch.Generator().manual_seed(1)
    phi = torch.nn.functional.normalize(torch.randn(5, 7, 16, generator=g), dim=-1)  # (H, W, D)
    q = torch.nn.functional.normalize(torch.randn(3, 16, generator=g), dim=-1)
    c = torch.nn.functional.normalize(torch.randn(4, 16, generator=g), dim=-1)
    r = relevancy(phi, q, c)
    assert r.shape == (5, 7, 3)
    torch.testing.assert_close(r.reshape(35, 3), relevancy(phi.reshape(35, 16), q, c))
    # each positive column is computed on its own
    torch.testing.assert_close(r[..., 1], relevancy(phi, q[1:2], c)[..., 0])


def test_temperature_sharpens():
    e = _basis(3)
    phi = torch.nn.functional.normalize(e[0] + 0.5 * e[1], dim=0).unsqueeze(0)
    q, c = e[0:1], e[1:2]
    # phi.q - phi.c = 0.5/sqrt(1.25)
    d = 0.5 / math.sqrt(1.25)
    assert relevancy(phi, q, c, temperature=1.0).item() == pytest.approx(1 / (1 + math.exp(-d)), abs=1e-6)
    assert relevancy(phi, q, c, temperature=100.0).item() > 0.99


def test_bad_inputs_raise_clear_errors():
    e = _basis(4)
    with pytest.raises(ValueError, match="at least one negative"):
        relevancy(e, e[:1], e[:0])
    with pytest.raises(ValueError, match="dims differ"):
        relevancy(e, torch.eye(3)[:1], e[:1])
    with pytest.raises(ValueError, match="temperature"):
        relevancy(e, e[:1], e[1:2], temperature=0.0)


def _scale_example() -> torch.Tensor:
    """(S=3, N=4, P=2): phrase 0 peaks at scale 2, phrase 1 at scale 0; scale 1 has one outlier."""
    r = torch.full((3, 4, 2), 0.5)
    r[2, :, 0] = torch.tensor([0.6, 0.7, 0.8, 0.75])
    r[1, :, 0] = torch.tensor([0.5, 0.5, 0.5, 0.85])  # single outlier point beats scale 2's max
    r[0, :, 1] = torch.tensor([0.9, 0.4, 0.4, 0.4])
    r[1, :, 1] = torch.tensor([0.6, 0.6, 0.6, 0.6])
    return r


def test_best_scale_by_max_and_by_quantile():
    r = _scale_example()
    torch.testing.assert_close(scale_statistic(r), torch.tensor([[0.5, 0.9], [0.85, 0.6], [0.8, 0.5]]))
    assert best_scale(r).tolist() == [1, 0]
    # median = nearest rank ceil(0.5 * 4) = 2nd smallest: scale 2 -> 0.7, scale 1 -> 0.5
    assert scale_statistic(r, quantile=0.5)[:, 0].tolist() == pytest.approx([0.5, 0.5, 0.7])
    assert best_scale(r, quantile=0.5).tolist() == [2, 1]
    # quantile 0 is the minimum
    assert scale_statistic(r, quantile=0.0)[:, 1].tolist() == pytest.approx([0.4, 0.6, 0.5])


def test_best_scale_accepts_image_batches_and_breaks_ties_low():
    r = torch.full((4, 3, 5, 1), 0.5)
    r[3, 1, 2, 0] = 0.9
    assert best_scale(r).tolist() == [3]
    assert best_scale(torch.full((4, 3, 5, 2), 0.5)).tolist() == [0, 0]


def test_select_scale_gathers_each_phrase_at_its_scale():
    r = _scale_example()
    chosen = select_scale(r, torch.tensor([2, 0]))
    torch.testing.assert_close(chosen[:, 0], r[2, :, 0])
    torch.testing.assert_close(chosen[:, 1], r[0, :, 1])
    with pytest.raises(ValueError, match="must lie in"):
        select_scale(r, torch.tensor([3, 0]))


def test_relevancy_map_validates():
    m = RelevancyMap(values=torch.zeros(4, 5), phrase="chair", scale=0.3)
    assert m.values.shape == (4, 5)
    with pytest.raises(ValueError, match="chair"):
        RelevancyMap(values=torch.zeros(1, 2, 3), phrase="chair")
