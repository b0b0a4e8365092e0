"""Segmentation of a room into objects: feature-gated connected components, merges, items on surfaces, pooling
(the shell removal: test_objects_shell.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from objects_helpers import STEP, grid, shell_room

from lerf3d.ground_truth import load_ground_truth
from lerf3d.objects.build import ObjectsConfig
from lerf3d.objects.segment import (
    SegmentConfig,
    footprint_overlap,
    merge_fragments,
    merge_stacked,
    scene_segments,
    segment_points,
    split_supported_items,
)
from lerf3d.scene_llm.tokens.frames import SceneTokens, TokenEncoding
from lerf3d.scene_llm.tokens.segments import segment_tokens


def test_shell_band_is_checked():
    with pytest.raises(ValueError, match="shell_band_m"):
        SegmentConfig(shell_band_m=0.1)


def test_components_split_by_gap_and_by_features():
    a, b = grid((0, 0, 0), (0.4, 0.4, 0)), grid((0.8, 0, 0), (1.2, 0.4, 0))  # 40 cm apart
    xyz = torch.cat([a, b])
    ids = segment_points(xyz, torch.zeros(len(xyz), 2), 0.06, None, 5)
    assert ids.unique().tolist() == [0, 1] and len(ids[: len(a)].unique()) == 1
    touching = torch.cat([a, a + torch.tensor([0.44, 0, 0])])  # one surface, two features
    features = torch.cat(
        [torch.tensor([[1.0, 0]]).expand(len(a), 2), torch.tensor([[0, 1.0]]).expand(len(a), 2)]
    )
    assert segment_points(touching, features, 0.06, None, 5).unique().tolist() == [0]
    gated = segment_points(touching, features, 0.06, 0.8, 5)
    assert gated.unique().tolist() == [0, 1] and len(gated[: len(a)].unique()) == 1
    small = segment_points(
        torch.cat([a, grid((3, 3, 3), (3.04, 3, 3))]), torch.zeros(len(a) + 2, 2), 0.06, None, 5
    )
    assert (small[-2:] == -1).all()  # a 2-point fragment


def test_items_on_a_surface_split_but_a_chair_back_stays():
    xyz, labels = shell_room()
    cfg = SegmentConfig(feature_threshold=None)
    inside = labels > 0
    merged = segment_points(xyz[inside], torch.zeros(int(inside.sum()), 1), cfg.voxel_m, None, cfg.min_points)
    assert len(merged[labels[inside] == 2].unique()) == 1
    assert merged[labels[inside] == 2][0] == merged[labels[inside] == 1][0]  # the box touches the top
    split = split_supported_items(xyz[inside], merged, cfg)
    item, table, chair = (split[labels[inside] == k] for k in (2, 1, 3))
    assert len(item[xyz[inside][labels[inside] == 2][:, 2] > 0.8].unique()) == 1
    assert item.max() not in table.tolist()
    assert len(chair.unique()) == 1  # the back rises from the seat's edge: part of the chair


def test_scene_segments_and_tokens():
    xyz, labels = shell_room()
    features = F.one_hot(labels, 4).float()
    ids = scene_segments(xyz, features, SegmentConfig())
    assert bool((ids[labels == 0] == -1).all())
    assert len(ids[labels > 0].unique()) == 3  # table, box, chair
    rgb = torch.rand(len(xyz), 3)
    bounds = torch.stack([xyz.amin(0), xyz.amax(0)])
    tokens = segment_tokens(xyz, features, rgb, ids, "scene", bounds)
    assert tokens.num_tokens == 3 and tokens.bounds is bounds
    assert torch.all(tokens.xyz[1:, 0] >= tokens.xyz[:-1, 0])  # west to east
    chair = int(torch.argmin(tokens.xyz[:, 0]))
    torch.testing.assert_close(tokens.features[chair], torch.tensor([0, 0, 0, 1.0]))
    assert abs(float(tokens.upper[chair, 2]) - 0.9) < STEP  # the back's top, to the grid step
    assert tokens.lower is not None and bool((tokens.lower <= tokens.xyz).all())
    with pytest.raises(ValueError, match="max_tokens"):
        SegmentConfig(max_tokens=0)


def test_a_remnant_of_the_ceiling_is_dropped_and_a_hanging_lamp_stays():
    xyz, labels = shell_room()
    remnant = grid((1.0, -1.3, 2.46), (1.6, -1.3, 2.46))  # 4 cm under the ceiling: past its 2.5 cm band
    lamp = grid((-0.5, 0.5, 2.1), (-0.5, 0.5, 2.46))  # hangs from it, 40 cm down
    points = torch.cat([xyz, remnant, lamp])
    parts = torch.cat([labels, torch.full((len(remnant),), 4), torch.full((len(lamp),), 5)])
    ids = scene_segments(points, F.one_hot(parts, 6).float(), SegmentConfig(shell_band_m=0.025, min_points=5,
                                                                          drop_ceiling=True))
    assert bool((ids[parts == 4] == -1).all())
    kept = scene_segments(points, F.one_hot(parts, 6).float(), SegmentConfig(shell_band_m=0.025, min_points=5))
    assert bool((kept[parts == 4] >= 0).all())  # off by default (the Scene LLM's segment tokens)
    pieces = ids[(parts > 0) & (parts != 4)]  # table, box, chair and lamp: one segment each
    assert bool((pieces >= 0).all()) and len(pieces.unique()) == 4


def test_encoding_layout_by_hand():
    tokens = SceneTokens(
        xyz=torch.tensor([[1.0, 0.5, 0.5]]),
        features=torch.tensor([[1.0, 0.0]]),
        rgb=torch.tensor([[1.0, 0.5, 0.0]]),
        frame="scene",
        lower=torch.tensor([[0.5, 0.0, 0.0]]),
        upper=torch.tensor([[1.5, 1.0, 1.0]]),
        bounds=torch.tensor([[-2.0, -1.0, 0.0], [2.0, 1.0, 2.0]]),
    )
    enc = TokenEncoding(xyz_scale=2.0, room_relative=True, fourier_bands=1, extents=True)
    x = tokens.projector_input(encoding=enc)
    assert x.shape == (1, enc.input_dim(2)) == (1, 2 + 3 + 3 + 6 + 6 + 3)
    centred = torch.tensor([1.0, 0.5, -0.5])  # the room's centre is (0, 0, 1)
    torch.testing.assert_close(x[0, 2:5], centred / 2)
    relative = centred / torch.tensor([2.0, 1.0, 1.0])
    torch.testing.assert_close(x[0, 5:8], relative)
    torch.testing.assert_close(
        x[0, 8:14], torch.cat([torch.sin(torch.pi * relative), torch.cos(torch.pi * relative)])
    )
    torch.testing.assert_close(x[0, 14:20], torch.tensor([0.25, 0.0, -0.5, 0.75, 0.5, 0.0]))
    torch.testing.assert_close(x[0, 20:], torch.tensor([1.0, 0.0, -1.0]))
    with pytest.raises(ValueError, match="both lower and upper"):
        SceneTokens(tokens.xyz, tokens.features, None, "scene", lower=tokens.lower)


def test_tiny_room_furniture_becomes_one_token_each(tiny_room, tiny_points):
    """Geometry alone (no features) on the generated room: every floor piece is found by a segment
    that is mostly that piece."""
    truth = load_ground_truth(tiny_room)
    xyz = torch.from_numpy(tiny_points.xyz).float()
    ids = scene_segments(xyz, torch.zeros(len(xyz), 1), SegmentConfig(feature_threshold=None))
    floor_pieces = [o for o in truth.furniture if o.box_min[2] < 0.05]
    for obj in floor_pieces:
        inside = ((xyz >= torch.tensor(obj.box_min) - 0.03) & (xyz <= torch.tensor(obj.box_max) + 0.03)).all(
            1
        )
        segments, counts = torch.unique(ids[inside & (ids >= 0)], return_counts=True)
        assert len(segments) >= 1, f"{obj.label}: no segment"
        main = int(segments[counts.argmax()])
        purity = float(inside[ids == main].float().mean())
        assert purity > 0.7, f"{obj.label}: its segment is {purity:.2f} that piece"


def test_stacked_parts_of_one_piece_merge_and_side_by_side_pieces_do_not():
    top = grid((0, 0, 0.7), (1.2, 0.8, 0.7))  # a tabletop
    base = grid((0.3, 0.2, 0.1), (0.9, 0.6, 0.5))  # a box under it, 20 cm below: not touching
    twin = grid((1.5, 0, 0.1), (2.0, 0.4, 0.5))  # a like piece beside it
    xyz = torch.cat([top, base, twin])
    ids = torch.cat([torch.zeros(len(top)), torch.ones(len(base)), torch.full((len(twin),), 2.0)]).long()
    same = torch.tensor([[1.0, 0.0]]).expand(len(xyz), 2)
    cfg = SegmentConfig(merge_stacked=True, stack_gap_m=0.25)
    merged = merge_stacked(xyz, same, ids, cfg)
    assert merged[: len(top)].unique().tolist() == merged[len(top) : len(top) + len(base)].unique().tolist()
    assert merged[-1] != merged[0] and len(merged.unique()) == 2
    other = torch.cat([same[: len(top)], torch.tensor([[0.0, 1.0]]).expand(len(base) + len(twin), 2)])
    assert len(merge_stacked(xyz, other, ids, cfg).unique()) == 3  # features disagree: kept apart
    assert len(merge_stacked(xyz, same, ids, SegmentConfig(merge_stacked=True, stack_gap_m=0.1)).unique()) == 3
    np.testing.assert_allclose(footprint_overlap(torch.tensor([[0.0, 0, 0], [0.5, 0, 0]]),
                                                 torch.tensor([[1.0, 1, 1], [2.0, 1, 1]])).numpy(),
                               [[1.0, 0.5], [1 / 3, 1.0]], atol=1e-6)


def test_a_surface_is_its_pieces_densest_level_not_a_cross_section_of_its_items():
    top = grid((0, 0, 0.72), (1.2, 0.8, 0.72))  # 31 x 21 points at one height
    item = torch.cat([grid((0.3, 0.3, z), (0.5, 0.5, z)) for z in (0.80, 0.82, 0.84, 0.86, 0.88, 0.90)])
    xyz = torch.cat([top, item])  # every 2 cm level of the item holds 36 points, > 5 % of the piece
    ids = torch.zeros(len(xyz), dtype=torch.long)
    plain = SegmentConfig(feature_threshold=None, surface_min_fraction=0.05)
    assert len(split_supported_items(xyz, ids, plain).unique()) == 1  # the item's top passed for the surface
    peak = SegmentConfig(feature_threshold=None, surface_min_fraction=0.05, surface_peak_share=0.5)
    split = split_supported_items(xyz, ids, peak)
    assert bool((split[len(top):] == 1).all()) and bool((split[: len(top)] == 0).all())


def test_a_sliver_over_a_surface_stays_with_its_piece_and_a_standing_item_splits():
    top = grid((0, 0, 0.72), (1.2, 0.8, 0.72))
    rail = grid((0.2, 0.3, 0.79), (1.0, 0.34, 0.79))  # a flat rail 7 cm over the top
    cup = grid((0.6, 0.5, 0.79), (0.68, 0.58, 0.89))  # a 10 cm item standing on the top
    xyz = torch.cat([top, rail, cup])
    ids = torch.zeros(len(xyz), dtype=torch.long)
    parts = slice(len(top), len(top) + len(rail))
    plain = SegmentConfig(feature_threshold=None, item_min_points=4, surface_peak_share=0.5)
    anywhere = split_supported_items(xyz, ids, plain)
    assert bool((anywhere[parts] > 0).all())  # with no rise asked for, the rail passes for an item
    split = split_supported_items(xyz, ids, replace(plain, item_min_rise_m=0.08))
    assert bool((split[parts] == 0).all())
    assert len(split[-len(cup):].unique()) == 1 and int(split[-1]) > 0


def test_a_small_fragment_beside_a_piece_merges_and_a_like_piece_beside_it_does_not():
    body = grid((0, 0, 0.1), (1.2, 0.8, 0.9))  # a game table's body
    handle = grid((1.3, 0.4, 0.8), (1.36, 0.4, 0.8))  # 10 cm outside it: the grid leaves it apart
    twin = grid((1.5, 0, 0.1), (2.7, 0.8, 0.9))  # a like piece 30 cm away
    far = grid((0.5, 1.1, 0.8), (0.56, 1.1, 0.8))  # a small thing 30 cm from the body
    xyz = torch.cat([body, handle, twin, far])
    sizes = [len(body), len(handle), len(twin), len(far)]
    ids = torch.cat([torch.full((n,), k) for k, n in enumerate(sizes)]).long()
    same = torch.tensor([[1.0, 0.0]]).expand(len(xyz), 2)
    cfg = SegmentConfig(merge_fragments=True)
    merged = merge_fragments(xyz, same, ids, cfg)
    part = [merged[ids == k].unique().tolist() for k in range(4)]
    assert part[1] == part[0]  # the handle joins the body
    assert part[2] != part[0] and part[3] != part[0] and len(merged.unique()) == 3
    other = torch.cat([same[: len(body)], torch.tensor([[0.0, 1.0]]).expand(len(xyz) - len(body), 2)])
    assert len(merge_fragments(xyz, other, ids, cfg).unique()) == 4  # features disagree: kept apart
    assert len(merge_fragments(xyz, same, ids, SegmentConfig(merge_fragments=True, fragment_gap_m=0.05)).unique()) == 4


def _box_surface(lo, hi, step) -> torch.Tensor:
    """The sides and top of the box [lo, hi], as a fused surface shows an item standing on a table."""
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    return torch.cat([
        grid((x0, y0, z0), (x1, y0, z1), step), grid((x0, y1, z0), (x1, y1, z1), step),
        grid((x0, y0, z0), (x0, y1, z1), step), grid((x1, y0, z0), (x1, y1, z1), step),
        grid((x0, y0, z1), (x1, y1, z1), step),
    ]).unique(dim=0)


def test_a_cup_a_few_centimetres_tall_splits_over_the_plane_and_a_cushion_top_stays():
    # a table top fused two voxels thick (0.715 and 0.725 m), a 6 cm wide, 5 cm tall cup and a
    # 30 x 30 cm relief as tall (a cushion's top) on it, every surface at a 1 cm spacing
    top = torch.cat([grid((0, 0, z), (1.2, 0.8, z), 0.02) for z in (0.715, 0.725)])
    cup = _box_surface((0.6, 0.5, 0.73), (0.66, 0.56, 0.77), 0.01)
    relief = _box_surface((0.1, 0.1, 0.73), (0.4, 0.4, 0.77), 0.01)
    xyz = torch.cat([top, relief, cup])
    ids = torch.zeros(len(xyz), dtype=torch.long)
    cfg = ObjectsConfig().segment
    split = split_supported_items(xyz, ids, cfg)
    over = xyz[:, 2] > 0.745  # over the plane (the median: 0.725) by more than the clearance (1.5 cm)
    cup_ids = split[-len(cup):][over[-len(cup):]].unique()
    assert len(cup_ids) == 1 and int(cup_ids[0]) > 0  # the cup's upper part is an item of its own
    assert bool((split[: len(top) + len(relief)] == 0).all())  # 5 cm over 30 cm: relief on the piece
    binned = split_supported_items(xyz, ids, replace(cfg, item_clearance_m=None))
    assert bool((binned == 0).all())  # over the surface's bins and one more, a 5 cm cup has no points
    wide = split_supported_items(xyz, ids, replace(cfg, item_min_aspect=0.0))
    assert len(wide.unique()) == 3  # without the aspect rule the relief passes for an item too
    with pytest.raises(ValueError, match="item_voxel_m"):
        SegmentConfig(item_voxel_m=0.0)
