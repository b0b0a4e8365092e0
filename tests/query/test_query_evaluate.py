"""Localisation / mIoU evaluation on hand-made embeddings with known answers, for both baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lerf3d.features.pyramid import FeaturePyramid, PyramidLevel
from lerf3d.query.baselines import PointFusionScorer, PyramidScorer, fuse_pyramids, nearest_point_map
from lerf3d.query.camera import QueryCamera
from lerf3d.query.evaluate import (
    EvalFrame,
    evaluate_frames,
    iou,
    localisation_hit,
    markdown_tables,
    normalised_prediction,
    report_json,
    summarise,
    visible_labels,
)
from lerf3d.query.relevancy import CANONICAL_NEGATIVES
from lerf3d.types import Intrinsics

SIDE = 8
DIM = 8


class TableEncoder:
    """Phrases -> fixed orthonormal basis vectors, so every relevancy below has a closed form:
    a pixel holding phrase q's vector scores sigmoid(10 * 1); any other pixel scores sigmoid(0) = 0.5."""

    name = "test:table"
    embedding_dim = DIM
    input_size = 4

    def __init__(self) -> None:
        words = ["chair", "oven", *CANONICAL_NEGATIVES, "background"]
        self.vectors = {w: torch.eye(DIM)[i] for i, w in enumerate(words)}

    def encode_text(self, phrases: list[str]) -> torch.Tensor:
        return torch.stack([self.vectors[p] for p in phrases])


def _masks() -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), np.int32)
    mask[0:4, 0:4] = 1  # chair (16 px)
    mask[4:8, 4:8] = 2  # oven (16 px)
    mask[6:8, 0:2] = 3  # a second chair (4 px): the chair label's union mask has 20 px
    return mask


def _embedding_map(encoder: TableEncoder, shuffled: bool) -> torch.Tensor:
    grid = encoder.vectors["background"].expand(SIDE, SIDE, DIM).clone()  # (H, W, D)
    if shuffled:  # each phrase's embedding sits on the other object: localisation and IoU 0
        grid[4:8, 4:8] = encoder.vectors["chair"]
        grid[0:4, 0:4] = encoder.vectors["oven"]
    else:  # chair: rows 0-3, cols 0-5 (24 px, 16 on the chair mask): IoU 16 / (24 + 4) = 4/7
        grid[0:4, 0:6] = encoder.vectors["chair"]
        grid[4:8, 4:8] = encoder.vectors["oven"]  # exactly the oven: IoU 1
    return grid


def _pyramid(grid: torch.Tensor) -> FeaturePyramid:
    """One level with a crop centred on every pixel: sampling at pixel centres returns ``grid``."""
    centres = torch.arange(SIDE, dtype=torch.float32) + 0.5
    return FeaturePyramid((PyramidLevel(0.1, 1, centres, centres, grid.half()),), SIDE, SIDE)


def _frame() -> EvalFrame:
    """Identity pose (OpenCV), every pixel's surface 1 m away."""
    k = Intrinsics(fx=SIDE, fy=SIDE, cx=SIDE / 2, cy=SIDE / 2, width=SIDE, height=SIDE)
    camera = QueryCamera(k, np.eye(4), np.ones((SIDE, SIDE), np.float32), "view0")
    return EvalFrame(camera, "held_out", _masks(), {1: "chair", 2: "oven", 3: "chair"})


def _pixel_points() -> torch.Tensor:
    """One world point on the z = 1 plane behind every pixel centre of the frame, row-major."""
    rows, cols = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), indexing="ij")
    x = (cols.reshape(-1) + 0.5 - SIDE / 2) / SIDE
    y = (rows.reshape(-1) + 0.5 - SIDE / 2) / SIDE
    return torch.stack([x, y, torch.ones_like(x)], dim=-1)


def _scorers(shuffled: bool):
    encoder = TableEncoder()
    pyramid = _pyramid(_embedding_map(encoder, shuffled))
    frame = _frame()
    fused = fuse_pyramids(_pixel_points(), [(frame.camera, pyramid)], scales=(0.3, 1.0))
    return frame, [
        PyramidScorer({"view0": pyramid}, encoder, scales=(0.0, 0.5, 1.0)),
        PointFusionScorer(_pixel_points(), fused, encoder, radius=0),
    ]


def test_point_fusion_reads_each_scale_at_its_pyramid_level():
    """Two levels with different contents, scales whose levels fall between them: the fused
    embedding is sample_pyramid's at the level each scale maps to (one view: its mean is itself)."""
    from lerf3d.features.interpolate import level_from_world_scale, sample_pyramid

    generator = torch.Generator().manual_seed(0)
    centres = torch.arange(SIDE, dtype=torch.float32) + 0.5
    coarse = torch.tensor([1.5, 5.5])
    levels = (PyramidLevel(0.25, 2, centres, centres,
                           torch.nn.functional.normalize(torch.randn(SIDE, SIDE, DIM, generator=generator), dim=-1)),
              PyramidLevel(0.75, 6, coarse, coarse,
                           torch.nn.functional.normalize(torch.randn(2, 2, DIM, generator=generator), dim=-1)))
    pyramid = FeaturePyramid(levels, SIDE, SIDE)
    frame, points, scales = _frame(), _pixel_points(), (0.2, 0.4, 0.55, 0.9)
    whole = fuse_pyramids(points, [(frame.camera, pyramid)], scales)
    assert whole.observed.all()
    pixels = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), dim=-1).reshape(-1, 2)  # row-major
    depth = torch.ones(len(points))
    for s, scale in enumerate(scales):
        level = level_from_world_scale(torch.full_like(depth, scale), depth, float(SIDE), SIDE, pyramid.tile_fractions)
        assert 0.0 <= float(level[0]) <= 1.0
        expected = sample_pyramid(pyramid, pixels, level)
        torch.testing.assert_close(whole.embeddings[s].float(), expected, atol=2e-3, rtol=0)


def test_known_answers_for_both_baselines():
    frame, scorers = _scorers(shuffled=False)
    scores = evaluate_frames([frame], scorers)
    assert len(scores) == 4  # 2 methods x 2 labels
    for s in scores:
        assert s.hit, s
        expected = 4 / 7 if s.phrase == "chair" else 1.0
        assert s.iou == pytest.approx(expected, abs=1e-12), s
    overall = {r.method: r for r in summarise(scores, "all")}
    for method in ("2d-pyramid", "point-fusion"):
        assert overall[method].localisation == 1.0
        assert overall[method].miou == pytest.approx((4 / 7 + 1) / 2)
        assert overall[method].count == 2


def test_shuffled_embeddings_score_zero():
    frame, scorers = _scorers(shuffled=True)
    scores = evaluate_frames([frame], scorers)
    assert len(scores) == 4 and not any(s.hit for s in scores)
    assert all(s.iou == 0.0 for s in scores)


def test_fused_embeddings_and_z_buffer():
    frame, scorers = _scorers(shuffled=False)
    index = nearest_point_map(_pixel_points(), frame.camera, radius=0)
    assert torch.equal(index, torch.arange(SIDE * SIDE))  # each pixel sees its own point
    fusion = scorers[1]
    expected = _embedding_map(TableEncoder(), shuffled=False).reshape(-1, DIM)
    for s in range(len(fusion.fused.scales)):
        torch.testing.assert_close(fusion.fused.embeddings[s].float(), expected)
    # a nearer point takes the pixel over: move point 0 halfway to the camera in front of pixel 9's ray
    points = _pixel_points()
    points[0] = points[9] * 0.5
    index = nearest_point_map(points, frame.camera, radius=0)
    assert index[9] == 0 and index[0] == -1


def test_visible_labels_and_min_fraction():
    frame = _frame()
    labels = visible_labels(frame)
    assert sorted(labels) == ["chair", "oven"]
    assert labels["chair"].sum() == 20 and labels["oven"].sum() == 16
    assert sorted(visible_labels(frame, min_fraction=17 / 64)) == ["chair"]


def test_metric_functions():
    values = torch.zeros(4, 4)
    values[1, 2] = 1.0
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = True
    assert localisation_hit(values, mask)
    assert not localisation_hit(values, ~mask)
    assert not normalised_prediction(torch.full((4, 4), 0.7)).any()  # a constant map predicts nothing
    assert iou(normalised_prediction(values), mask) == 1.0
    assert iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 0.0


def test_tables_and_json():
    frame, scorers = _scorers(shuffled=False)
    scores = evaluate_frames([frame], scorers)
    table = markdown_tables(scores, "room0")
    assert "| 2d-pyramid | all | 2 | 1.000 | 0.786 |" in table
    assert "| point-fusion | chair | 1 | 1.000 | 0.571 |" in table
    data = report_json(scores, "room0", 0.5, 0.001)
    assert len(data["scores"]) == 4
    assert {(r["by"], r["group"]) for r in data["summary"]} >= {("all", "all"), ("split", "held_out"),
                                                                ("phrase", "oven")}
    assert math.isclose(data["summary"][0]["miou"], (4 / 7 + 1) / 2)
