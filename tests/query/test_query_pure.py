"""Pure pieces of lerf3d.query: split relevancy, scale search, LRU, overlay, region box, cameras, media."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from lerf3d.geometry import look_at
from lerf3d.query.cache import ByteLRU
from lerf3d.query.camera import (
    MAX_RENDER_PIXELS,
    MAX_RENDER_SIDE,
    QueryCamera,
    load_pose_file,
    orbit_cameras,
)
from lerf3d.query.export import RegionConfig, connected_component, top_region
from lerf3d.query.media import MAX_SLUG_BYTES, phrase_stems, slug, write_video
from lerf3d.query.overlay import heatmap_overlay, turbo
from lerf3d.query.relevancy import relevancy
from lerf3d.query.search import (
    ScaledEmbeddings,
    hardest_similarity,
    lerf_scales,
    relevancy_at_scales,
    relevancy_from_similarities,
    relevancy_streamed,
    scale_search,
)
from lerf3d.types import Intrinsics, SceneBounds


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=generator), dim=-1)


def test_lerf_scales():
    scales = lerf_scales()
    assert len(scales) == 30 and scales[0] == 0.0 and scales[-1] == pytest.approx(1.5)
    with pytest.raises(ValueError):
        lerf_scales(0)


def test_split_relevancy_equals_relevancy_with_chunks():
    emb, pos, neg = _unit(3, 50, 8, seed=1), _unit(2, 8, seed=2), _unit(4, 8, seed=3)
    stack = ScaledEmbeddings(emb, (0.1, 0.5, 1.0))
    half = ScaledEmbeddings(emb.half(), stack.scales)  # through the reused float32 buffer
    torch.testing.assert_close(hardest_similarity(half, neg, chunk=7),
                               hardest_similarity(half, neg, chunk=64))
    hardest = hardest_similarity(stack, neg, chunk=7)
    out = relevancy_at_scales(stack, pos, hardest, chunk=7)  # chunks that do not divide N
    torch.testing.assert_close(out, relevancy(emb, pos, neg))
    torch.testing.assert_close(relevancy_from_similarities(emb @ pos.T, hardest), relevancy(emb, pos, neg))
    streamed = relevancy_streamed(lambda s: emb[s], stack.scales, pos, neg, chunk=11)
    torch.testing.assert_close(streamed, out)
    values, index = scale_search(out)
    assert values.shape == (50, 2) and index.shape == (2,)


def test_unobserved_rows_score_zero():
    emb = _unit(1, 4, 8)
    emb[0, 2] = 0
    observed = torch.tensor([[True, True, False, True]])
    stack = ScaledEmbeddings(emb, (0.5,), observed)
    neg, pos = _unit(3, 8, seed=5), _unit(1, 8, seed=4)
    out = relevancy_at_scales(stack, pos, hardest_similarity(stack, neg))
    assert out[0, 2, 0] == 0 and (out[0, [0, 1, 3], 0] > 0).all()
    streamed = relevancy_streamed(lambda s: emb[s], (0.5,), pos, neg)  # zero rows found by itself
    torch.testing.assert_close(streamed, out)


def test_scaled_embeddings_validation():
    with pytest.raises(ValueError, match="increasing"):
        ScaledEmbeddings(torch.zeros(2, 3, 4), (0.5, 0.5))
    with pytest.raises(ValueError, match="S=1"):
        ScaledEmbeddings(torch.zeros(2, 3, 4), (0.5,))
    basis, _ = torch.linalg.qr(torch.randn(8, 4, generator=torch.Generator().manual_seed(0)))  # (C=8, R=4)
    with pytest.raises(ValueError, match=r"basis must be \(C >= 4, 4\)"):
        ScaledEmbeddings(torch.zeros(2, 3, 4), (0.1, 0.5), basis=basis[:, :3])  # R does not match
    with pytest.raises(ValueError, match="basis must be"):
        ScaledEmbeddings(torch.zeros(2, 3, 4), (0.1, 0.5), basis=torch.zeros(3, 4))  # C < R
    with pytest.raises(ValueError, match="basis must be"):
        ScaledEmbeddings(torch.zeros(2, 3, 4), (0.1, 0.5), basis=basis[None])
    with pytest.raises(ValueError, match="orthonormal"):
        ScaledEmbeddings(torch.zeros(2, 3, 4), (0.1, 0.5), basis=2 * basis)
    stack = ScaledEmbeddings(torch.zeros(2, 3, 4), (0.1, 0.5), basis=basis)
    with pytest.raises(ValueError, match=r"\(K >= 1, 8\)"):  # phrases are C-wide, not R-wide
        hardest_similarity(stack, _unit(2, 4))
    with pytest.raises(ValueError, match=r"\(P, 8\)"):
        relevancy_at_scales(stack, _unit(2, 4), torch.zeros(2, 3))


def test_basis_stack_answers_as_its_ambient_rows():
    """Rows z in an orthonormal basis U: relevancy, scale search and memory from (S, N, R) rows equal
    those of the (S, N, C) rows U z; phrases are projected once (q . U z = U^T q . z)."""
    basis, _ = torch.linalg.qr(torch.randn(24, 6, generator=torch.Generator().manual_seed(0)))  # (C, R)
    coords, pos, neg = _unit(3, 50, 6, seed=1), _unit(2, 24, seed=2), _unit(4, 24, seed=3)
    ambient = coords @ basis.T  # (S, N, C), unit rows
    for dtype in (torch.float32, torch.float16):
        compressed = ScaledEmbeddings(coords.to(dtype), (0.1, 0.5, 1.0), basis=basis)
        full = ScaledEmbeddings(compressed.ambient(torch.float32), compressed.scales)
        assert compressed.dim == 24 and compressed.width == 6 and compressed.project(pos).shape == (2, 6)
        torch.testing.assert_close(full.embeddings.norm(dim=-1), torch.ones(3, 50), atol=2e-3, rtol=0)
        hardest = hardest_similarity(compressed, neg, chunk=7)
        torch.testing.assert_close(hardest, hardest_similarity(full, neg), atol=1e-5, rtol=1e-5)
        out = relevancy_at_scales(compressed, pos, hardest, chunk=7)
        expected = relevancy_at_scales(full, pos, hardest_similarity(full, neg))
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
        assert torch.equal(scale_search(out)[1], scale_search(expected)[1])
        assert compressed.nbytes == 3 * 50 * 6 * compressed.embeddings.element_size() + 24 * 6 * 4
    exact = ScaledEmbeddings(coords, (0.1, 0.5, 1.0), basis=basis)
    torch.testing.assert_close(exact.ambient(), ambient)
    torch.testing.assert_close(relevancy_at_scales(exact, pos, hardest_similarity(exact, neg)),
                               relevancy(ambient, pos, neg))


def test_byte_lru():
    cache = ByteLRU(10, len)
    assert cache.get_or_compute("a", lambda: "xxxx") == "xxxx"
    cache.get_or_compute("b", lambda: "yyyy")
    cache.get_or_compute("a", lambda: "never")  # hit: a is now the most recent
    cache.get_or_compute("c", lambda: "zzzz")  # 12 bytes > 10: b (least recent) goes
    assert "a" in cache and "c" in cache and "b" not in cache
    cache.get_or_compute("big", lambda: "w" * 11)  # larger than the cap: returned, not kept
    assert "big" not in cache and cache.stats().nbytes == 8
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 4, 2)


def test_overlay_is_transparent_below_one_half():
    rgb = np.full((2, 3, 3), 0.5, np.float32)
    values = np.array([[0.1, 0.49, 0.5], [0.7, 0.9, 0.2]], np.float32)
    out = heatmap_overlay(rgb, values)
    grey = round(0.5 * 255)
    for r, c in [(0, 0), (0, 1), (1, 2)]:
        assert (out[r, c] == grey).all()
    assert not (out[1, 1] == grey).all()
    # the strongest pixel gets the hottest colour of the map
    expected_hot = (0.5 * (1 - 0.65) + turbo(np.float32(1.0)) * 0.65) * 255
    np.testing.assert_allclose(out[1, 1], expected_hot, atol=1)
    np.testing.assert_allclose(turbo(np.array([0.0, 1.0])) * 255, [[48, 18, 59], [122, 4, 3]], atol=1e-4)


def test_top_region_finds_the_cluster_of_the_peak():
    rng = np.random.default_rng(0)
    cup = rng.normal([1.0, 1.0, 0.8], 0.03, size=(300, 3))
    other = rng.normal([3.0, 1.0, 0.8], 0.03, size=(300, 3))  # also relevant, but not connected
    floor = np.c_[rng.uniform(0, 4, (1000, 2)), np.zeros(1000)]
    xyz = np.vstack([cup, other, floor])
    values = np.r_[np.full(300, 0.8), np.full(300, 0.75), np.full(1000, 0.3)]
    values[5] = 0.9  # the peak is in the cup
    box = top_region(xyz, values, "cup", 0.5)
    assert box.found and box.num_points == 300
    np.testing.assert_allclose(box.center, [1.0, 1.0, 0.8], atol=0.02)
    lo, hi = np.percentile(cup, 2, axis=0), np.percentile(cup, 98, axis=0)
    np.testing.assert_allclose(box.box_min, lo)
    np.testing.assert_allclose(box.box_max, hi)
    # nothing above 0.5: the peak alone, flagged
    weak = top_region(xyz, np.full(len(xyz), 0.2), "cup", config=RegionConfig())
    assert not weak.found and weak.num_points == 1


def test_connected_component_links_by_voxels():
    xyz = np.array([[0.0, 0, 0], [0.04, 0, 0], [0.08, 0, 0], [0.5, 0, 0]])
    member = np.array([True, True, True, True])
    assert connected_component(xyz, member, 0, 0.05).tolist() == [True, True, True, False]


def test_pose_file_and_conventions(tmp_path):
    pose = look_at(np.array([0.0, -2.0, 1.0]), np.zeros(3))
    k = {"fx": 50, "fy": 50, "cx": 32, "cy": 24, "width": 64, "height": 48}
    path = tmp_path / "pose.json"
    path.write_text(json.dumps({"camera_to_world": pose.tolist(), "intrinsics": k}))
    camera = load_pose_file(path)
    np.testing.assert_allclose(camera.camera_to_world, pose)
    opengl = pose @ np.diag([1.0, -1.0, -1.0, 1.0])
    path.write_text(json.dumps({"camera_to_world": opengl.tolist(), "intrinsics": k, "convention": "opengl"}))
    np.testing.assert_allclose(load_pose_file(path).camera_to_world, pose)
    path.write_text(json.dumps({"camera_to_world": pose.tolist()}))
    with pytest.raises(ValueError, match="malformed pose file"):
        load_pose_file(path)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"pose\.json: malformed pose file \(RecursionError"):
        load_pose_file(path)
    # regression: a pose file claiming 50000x50000 went on to a 40 GB allocation
    for width, height in ((50_000, 50_000), (0, 48), (4096, 4096)):
        path.write_text(json.dumps({"camera_to_world": pose.tolist(),
                                    "intrinsics": {**k, "width": width, "height": height}}))
        with pytest.raises(ValueError, match=rf"pose\.json: intrinsics width x height: {width}x{height} is not a "
                           rf"render size: sides 1\.\.{MAX_RENDER_SIDE} and at most {MAX_RENDER_PIXELS:,} pixels"):
            load_pose_file(path)
    path.write_text(json.dumps({"camera_to_world": pose.tolist(), "intrinsics": {**k, "fx": 0}}))
    with pytest.raises(ValueError, match=r"pose\.json: intrinsics fx, fy must be finite and > 0"):
        load_pose_file(path)
    with pytest.raises(FileNotFoundError):
        load_pose_file(tmp_path / "missing.json")


def test_orbit_cameras_look_into_the_room():
    bounds = SceneBounds(np.array([0.0, 0.0, 0.0]), np.array([4.0, 3.0, 2.5]))
    cameras = orbit_cameras(bounds, 8, 64, 48)
    assert len({c.key for c in cameras}) == 8
    for camera in cameras:
        eye, forward = camera.camera_to_world[:3, 3], camera.camera_to_world[:3, 2]
        assert (eye > bounds.lower).all() and (eye < bounds.upper).all()
        assert forward[2] < 0  # looking down at the furniture
        rotation = camera.camera_to_world[:3, :3]
        np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)


def test_camera_key_and_validation():
    k = Intrinsics(10, 10, 5, 5, 10, 10)
    a = QueryCamera(k, np.eye(4), None, "a")
    assert QueryCamera(k, np.eye(4), None, "b").key == a.key  # names do not matter
    assert a.resized(20, 20).key != a.key
    with pytest.raises(ValueError, match="depth"):
        QueryCamera(k, np.eye(4), np.zeros((5, 5)), "bad")


def test_phrase_stems_are_distinct_for_distinct_phrases():
    # regression: "chair" and "CHAIR!" both wrote VIEW_chair.png, any two non-ASCII phrases VIEW_phrase.png
    stems = phrase_stems(["chair", "CHAIR!", "椅子", "オーブン", "coffee cup", "coffee_cup", "rgb", "☕", "🍵"])
    assert len(set(stems)) == 9
    assert stems[:3] == ["chair", "chair_" + hashlib.sha256(b"CHAIR!").hexdigest()[:8], "椅子"]
    assert stems[3:5] == ["オーブン", "coffee_cup"] and stems[5].startswith("coffee_cup_")
    assert stems[6].startswith("rgb_") and stems[7].startswith("phrase_") and stems[8].startswith("phrase_")
    assert phrase_stems(["CHAIR!"]) == [stems[1]]  # the same name in any call: no overwrite across calls


def test_slug_and_video_validation(tmp_path):
    assert slug("Coffee cup!") == "coffee_cup"
    assert slug("☕") == "phrase"
    assert slug("椅子") == "椅子" and slug("Große Lampe") == "große_lampe"  # letters of any script
    assert len(slug("x" * 500)) == MAX_SLUG_BYTES
    assert len(slug("椅" * 500).encode("utf-8")) == 120  # 40 three-byte characters, none cut in half
    with pytest.raises(ValueError, match=".mp4 or .gif"):
        write_video(tmp_path / "v.avi", [np.zeros((4, 4, 3), np.uint8)], 10)
