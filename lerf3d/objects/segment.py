"""Class-agnostic segmentation of a room's fused points into pieces of furniture (pure functions).

1. :func:`~lerf3d.objects.shell.structure_mask` drops the room's shell (floor, ceiling and walls:
   planar slabs at the extremes of the point set, only near their planes);
2. :func:`segment_points` splits the rest into connected components of a fine occupancy grid,
   cutting the link between neighbouring cells whose features disagree (a lamp on a table);
3. :func:`merge_stacked` and :func:`merge_fragments` join the parts of one piece that the grid left
   apart (a tabletop over its base; a game table's handles beside its body);
4. :func:`split_supported_items` gives items standing on a support surface (a table top) their own
   segments;
5. :func:`drop_ceiling_remnants` drops what lies wholly in the ceiling's slab.

Limits, stated: the shell test assumes walls along the world x/y axes (generated rooms, and
ScanNet-style scans after their axis alignment); touching pieces with alike features merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int

from lerf3d.features.interpolate import NORM_EPS
from lerf3d.objects.pooling import scatter_bounds, scatter_mean
from lerf3d.objects.shell import ceiling_slab, structure_mask

NEIGHBOUR_OFFSETS = np.array(
    [(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1) if (i, j, k) > (0, 0, 0)],
    dtype=np.int64,
)
"""Half of the 26-neighbourhood (the other half is the same edges reversed)."""

FURNITURE_SCALE_M = 0.5
"""World scale (metres) at which language features tell one piece of furniture from the next: the
scale :attr:`SegmentConfig.feature_threshold` is set for, read by object building
(``ObjectsConfig.segment_scale_m``) and the Scene LLM's features. LERF's scale search spans
[0, 1.5] m; this is about the size of a piece of furniture, the unit the generated questions use."""


@dataclass(frozen=True)
class SegmentConfig:
    """Shell removal and segmentation of a feature point set."""

    shell_margin_m: float = 0.08
    """Thickness of the slab at each extreme tested as floor/ceiling/wall: two fusion voxels of
    noise plus the gap our generator leaves between furniture and walls (2 cm)."""
    shell_band_m: float | None = None
    """Within a shell slab, only points this close to its plane (the densest centimetre of each
    half-metre tile, :func:`~lerf3d.objects.shell.slab_plane_depth`) or behind it are shell; None:
    the whole slab. A fused plane is a voxel or two thick (a room's auto voxel: ~1.5 cm), and an
    8 cm slab also takes whatever lies flat on the floor or hangs on a wall, and the feet of every
    piece."""
    shell_min_fraction: float = 0.02
    """A slab is shell when it holds at least this share of the points. A wall of a 4 x 3 x 2.6 m room
    holds ~10 % of the surface, the top of the tallest cabinet < 1 %."""
    voxel_m: float = 0.06
    """Occupancy cell of the connected components: above the fused point spacing (0.04 m) so a
    surface stays connected, well below the 0.3 m our generator keeps between pieces."""
    feature_threshold: float | None = 0.8
    """Neighbouring cells are linked only when the cosine of their mean features is at least this;
    None links by geometry alone."""
    min_points: int = 30
    """Smaller components are fusion fragments, not objects: dropped."""
    max_tokens: int = 32
    """At most this many segments (the largest) become tokens."""
    split_items: bool = True
    """Split items standing on a segment's top surface off it (:func:`split_supported_items`)."""
    surface_bin_m: float = 0.02
    """Height bins in which a support's flat top is looked for (two fused point spacings thick)."""
    surface_min_fraction: float = 0.05
    """Two neighbouring height bins are a support surface when they hold at least this share of the
    segment's points (the top of a 1.2 x 0.6 m kitchen island: ~13 % of its fused points)."""
    surface_peak_share: float = 0.0
    """A support surface must also hold this share of the segment's densest bin pair (0: off). A
    table top is its piece's densest level; a cross-section through the items standing on it (a
    teddy bear beside a ball) is far thinner, and with 0 the highest such cross-section can pass
    for the surface and hide the items."""
    merge_stacked: bool = False
    """Merge a segment into the one above it when it stands under the upper one's footprint, within
    ``stack_gap_m`` below it, and their features agree (:func:`merge_stacked`): the parts of one
    piece that a thin, unfused connection left apart (a tabletop over its base)."""
    stack_gap_m: float = 0.12
    """Largest vertical gap (m) between stacked parts of one piece: two occupancy cells."""
    stack_overlap: float = 0.5
    """Share of the lower segment's footprint that must lie under the upper one's."""
    item_min_points: int = 8
    """Smallest item split off a surface: 8 found 13 of 27 tabletop items in 12 generated rooms
    (15: 10 of 27) with no more spurious segments; smaller items (a cup) fuse to a handful of points."""
    item_margin_m: float = 0.03
    """An item's footprint must lie this far inside the surface's on every side: a chair's back
    rises from the edge of its seat and stays part of the chair."""
    item_min_rise_m: float = 0.0
    """An item must reach at least this far above the surface it stands on (0: any height). A fused
    surface is two height bins thick, so a sliver a bin or two above it (a rim, the rods of a game
    table, a lid's edge) cannot be told from the piece's own top at that resolution: it stays part
    of the piece. Items as flat as that (a book lying flat) stay with their support too. The rise
    is counted from where ``item_clearance_m`` says."""
    item_clearance_m: float | None = None
    """None: an item is what lies over the surface's two height bins and one more of clearance, its
    rise counted from the top of those bins (what the Scene LLM's tokens were trained with). A
    value: what lies this far over the surface's plane (the median height of its two bins), its rise
    counted from the plane; about one fusion voxel keeps the lower half of a cup that the bins cut
    off, and with it the cups, bottles and pots only a few centimetres tall."""
    item_voxel_m: float | None = None
    """Occupancy cell of the connected components above a surface (None: ``voxel_m``). Items on a
    table stand closer together than pieces of furniture do (a cup beside a bottle)."""
    item_min_aspect: float = 0.0
    """An item must also rise at least this multiple of its larger horizontal side (0: off). A cup,
    a lamp or a toy is about as tall as it is wide; a cushion's top or a bump along a couch's back,
    as wide as a seat and a few centimetres high, is relief on the piece itself."""
    merge_fragments: bool = False
    """Merge a fragment into a much larger piece it nearly touches when their features agree
    (:func:`merge_fragments`): parts of one piece that neither touch it nor stand under it (a
    chair's foot, the handles of a game table)."""
    fragment_share: float = 0.05
    """A fragment holds at most this share of the piece's points (a game table's handle: < 1 %; a
    lamp beside a sofa is a piece of its own, far above 5 %)."""
    fragment_gap_m: float = 0.12
    """A fragment lies within this distance of the piece (two occupancy cells): further away, it is
    an object of its own."""
    drop_ceiling: bool = False
    """Drop the segments lying wholly in the ceiling's slab (:func:`drop_ceiling_remnants`): the
    strip of ceiling a plane band leaves where the ceiling meets a wall."""

    def __post_init__(self) -> None:
        if self.shell_margin_m < 0 or not 0 < self.shell_min_fraction < 1:
            raise ValueError("shell_margin_m must be >= 0 and shell_min_fraction in (0, 1)")
        if self.shell_band_m is not None and not 0 < self.shell_band_m <= self.shell_margin_m:
            raise ValueError(f"shell_band_m must be in (0, shell_margin_m] or None, got {self.shell_band_m}")
        if not self.voxel_m > 0 or self.min_points < 1 or self.max_tokens < 1:
            raise ValueError("voxel_m must be > 0, min_points and max_tokens >= 1")
        if (self.item_clearance_m is not None and self.item_clearance_m < 0) or self.item_min_aspect < 0:
            raise ValueError("item_clearance_m (when set) and item_min_aspect must be >= 0")
        if self.item_voxel_m is not None and not self.item_voxel_m > 0:
            raise ValueError(f"item_voxel_m must be > 0 or None, got {self.item_voxel_m}")
        if self.feature_threshold is not None and not -1 <= self.feature_threshold <= 1:
            raise ValueError(
                f"feature_threshold must be a cosine in [-1, 1] or None, got {self.feature_threshold}"
            )


def _cell_keys(cells: Int[torch.Tensor, "V 3"], extent: Int[torch.Tensor, " 3"]) -> torch.Tensor:
    return (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]  # (V,)


def segment_points(
    xyz: Float[torch.Tensor, "N 3"],
    features: Float[torch.Tensor, "N F"],
    voxel_m: float,
    feature_threshold: float | None,
    min_points: int,
) -> Int[torch.Tensor, " N"]:
    """Segment id per point (0..S-1, largest segment first; -1: in a component under ``min_points``).

    Components of the 26-connected occupancy grid at ``voxel_m``, with an edge only where both cells'
    mean features have cosine >= ``feature_threshold`` (cells without features link by geometry).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    out = torch.full((xyz.shape[0],), -1, dtype=torch.long, device=xyz.device)
    if xyz.shape[0] == 0:
        return out
    cells = torch.floor((xyz - xyz.amin(0)) / voxel_m).long() + 1  # (N, 3), a free border at 0
    extent = cells.amax(0) + 2
    keys, point_cell = torch.unique(_cell_keys(cells, extent), return_inverse=True)
    num_cells = keys.shape[0]
    cell_xyz = torch.zeros(num_cells, 3, dtype=torch.long)
    cell_xyz[point_cell.cpu()] = cells.cpu()  # (V, 3): the points of a cell all write the same cell
    cell_features = F.normalize(scatter_mean(features.float(), point_cell, num_cells), dim=1, eps=NORM_EPS)
    rows, cols = [], []
    sorted_keys = keys.cpu().numpy()
    for offset in NEIGHBOUR_OFFSETS:
        neighbour = _cell_keys(cell_xyz + torch.from_numpy(offset), extent.cpu()).numpy()
        where = np.searchsorted(sorted_keys, neighbour).clip(max=num_cells - 1)
        hit = sorted_keys[where] == neighbour
        rows.append(np.nonzero(hit)[0])
        cols.append(where[hit])
    a, b = np.concatenate(rows), np.concatenate(cols)
    if feature_threshold is not None and len(a):
        cosine = (cell_features[a] * cell_features[b]).sum(1).cpu().numpy()
        seen = (cell_features[a].abs().sum(1) > 0) & (cell_features[b].abs().sum(1) > 0)
        keep = (cosine >= feature_threshold) | ~seen.cpu().numpy()
        a, b = a[keep], b[keep]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(num_cells, num_cells))
    _, component = connected_components(graph, directed=False)
    point_component = torch.from_numpy(component).to(xyz.device)[point_cell]  # (N,)
    sizes = torch.bincount(point_component)
    order = [int(c) for c in torch.argsort(sizes, descending=True, stable=True) if sizes[c] >= min_points]
    relabel = torch.full((sizes.shape[0],), -1, dtype=torch.long, device=xyz.device)
    relabel[torch.tensor(order, dtype=torch.long, device=xyz.device)] = torch.arange(
        len(order), device=xyz.device
    )
    return relabel[point_component]


def split_supported_items(
    xyz: Float[torch.Tensor, "N 3"], segment_ids: Int[torch.Tensor, " N"], cfg: SegmentConfig
) -> Int[torch.Tensor, " N"]:
    """Give items standing on a segment's flat top their own segment ids (appended after the others).

    A segment's support surface is its highest height bin pair holding ``surface_min_fraction`` of
    its points (and ``surface_peak_share`` of its densest pair's). The points above it (by
    ``item_clearance_m``) split into connected components (the surface removed, they no longer
    touch); a component of ``item_min_points`` whose footprint lies ``item_margin_m`` inside the
    surface's footprint is an item on it (a cup on a table), one touching the surface's edge is part
    of the piece (a chair's back), and so is one rising less than ``item_min_rise_m`` above the
    surface (a rim) or less than ``item_min_aspect`` times its own width (a cushion's top).
    """
    out = segment_ids.clone()
    next_id = int(segment_ids.max()) + 1 if segment_ids.numel() else 0
    for segment in range(next_id):
        members = torch.nonzero(segment_ids == segment).squeeze(1)
        z = xyz[members, 2]
        bins = torch.floor((z - z.min()) / cfg.surface_bin_m).long()  # (n,)
        counts = torch.bincount(bins)
        pairs = counts + torch.cat([counts[1:], counts.new_zeros(1)])  # bins i and i + 1: a surface
        floor = max(cfg.surface_min_fraction * len(members), cfg.surface_peak_share * float(pairs.max()))
        dense = torch.nonzero(pairs >= floor).squeeze(1)  # may straddle two
        if len(dense) == 0:
            continue
        top = int(dense.max())
        surface = members[(bins == top) | (bins == top + 1)]
        if cfg.item_clearance_m is None:
            above = members[bins > top + 2]  # one bin of clearance over the surface's own thickness
            base = float(xyz[surface, 2].max())
        else:
            base = float(xyz[surface, 2].median())  # the surface's plane
            above = members[xyz[members, 2] > base + cfg.item_clearance_m]
        if len(above) < cfg.item_min_points:
            continue
        parts = segment_points(xyz[above], xyz.new_zeros(len(above), 1), cfg.item_voxel_m or cfg.voxel_m, None,
                               cfg.item_min_points)
        lo = xyz[surface, :2].amin(0) + cfg.item_margin_m
        hi = xyz[surface, :2].amax(0) - cfg.item_margin_m
        for part in range(int(parts.max()) + 1):
            item = above[parts == part]
            foot_lo, foot_hi = xyz[item, :2].amin(0), xyz[item, :2].amax(0)
            rise = float(xyz[item, 2].max()) - base
            rises = rise >= cfg.item_min_rise_m and rise >= cfg.item_min_aspect * float((foot_hi - foot_lo).max())
            if rises and bool((foot_lo >= lo).all() and (foot_hi <= hi).all()):
                out[item] = next_id
                next_id += 1
    return out


def footprint_overlap(
    lower: Float[torch.Tensor, "S 3"], upper: Float[torch.Tensor, "S 3"]
) -> Float[torch.Tensor, "S S"]:
    """[a, b]: the share of segment a's horizontal footprint (x/y box) that lies inside b's."""
    lo = torch.maximum(lower[:, None, :2], lower[None, :, :2])  # (S, S, 2)
    hi = torch.minimum(upper[:, None, :2], upper[None, :, :2])
    inter = (hi - lo).clamp_min(0).prod(dim=-1)  # (S, S)
    area = (upper[:, :2] - lower[:, :2]).clamp_min(1e-9).prod(dim=-1)  # (S,)
    return inter / area[:, None]


def merge_stacked(
    xyz: Float[torch.Tensor, "N 3"], features: Float[torch.Tensor, "N F"], segment_ids: Int[torch.Tensor, " N"],
    cfg: SegmentConfig,
) -> Int[torch.Tensor, " N"]:
    """Merge each segment standing under another into it (module docstring, ``merge_stacked``).

    Segment a goes into b when a's top is at most ``stack_gap_m`` below b's bottom (or overlaps it in
    height), ``stack_overlap`` of a's footprint lies inside b's, and the cosine of their mean
    features is at least ``feature_threshold`` (any, when that is None). Side by side pieces never
    merge, however alike: only a part under another is taken for the same piece.
    """
    count = int(segment_ids.max()) + 1 if segment_ids.numel() else 0
    if count < 2:
        return segment_ids
    keep = segment_ids >= 0
    index = segment_ids[keep]
    lower, upper = scatter_bounds(xyz[keep], index, count)
    below = lower[None, :, 2] - upper[:, None, 2]  # (S, S) [a, b]: b's bottom minus a's top
    under = (below <= cfg.stack_gap_m) & (upper[:, None, 2] < upper[None, :, 2])  # a ends lower than b
    agree = features_agree(features[keep], index, count, cfg.feature_threshold)
    link = under & agree & (footprint_overlap(lower, upper) >= cfg.stack_overlap)
    return join_linked(segment_ids, link)


def features_agree(
    features: Float[torch.Tensor, "N F"], index: Int[torch.Tensor, " N"], count: int, threshold: float | None
) -> Bool[torch.Tensor, "S S"]:
    """[a, b]: the cosine of segments a's and b's mean features is at least ``threshold`` (always,
    when that is None or either segment has no features: such segments join by geometry)."""
    mean = F.normalize(scatter_mean(features.float(), index, count), dim=1, eps=NORM_EPS)
    seen = mean.abs().sum(1) > 0
    agree = mean @ mean.T >= threshold if threshold is not None else torch.ones(count, count, dtype=torch.bool)
    return agree.to(seen.device) | ~(seen[:, None] & seen[None, :])


def join_linked(segment_ids: Int[torch.Tensor, " N"], link: Bool[torch.Tensor, "S S"]) -> Int[torch.Tensor, " N"]:
    """Segment ids after joining every linked pair ([a, b] true: a and b are one piece), renumbered
    0..S'-1; -1 stays -1."""
    count = link.shape[0]
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in torch.nonzero(link & ~torch.eye(count, dtype=torch.bool, device=link.device)).tolist():
        parent[root(a)] = root(b)
    roots = torch.tensor([root(i) for i in range(count)], device=segment_ids.device)
    _, relabel = torch.unique(roots, return_inverse=True)
    return torch.where(segment_ids >= 0, relabel[segment_ids.clamp_min(0)], segment_ids)


def merge_fragments(
    xyz: Float[torch.Tensor, "N 3"], features: Float[torch.Tensor, "N F"], segment_ids: Int[torch.Tensor, " N"],
    cfg: SegmentConfig,
) -> Int[torch.Tensor, " N"]:
    """Merge each fragment into a piece it nearly touches (``SegmentConfig.merge_fragments``).

    Segment a joins b when a holds at most ``fragment_share`` of b's points, b is the piece with the
    most points within ``fragment_gap_m`` of a's, and the cosine of their mean features is at least
    ``feature_threshold`` (any, when that is None): the handles of a game table or a chair's foot
    that the occupancy grid left apart. Pieces of like size never merge, however close and alike.
    """
    from scipy.spatial import cKDTree

    count = int(segment_ids.max()) + 1 if segment_ids.numel() else 0
    if count < 2:
        return segment_ids
    keep = torch.nonzero(segment_ids >= 0).squeeze(1)
    index = segment_ids[keep]
    points = xyz[keep].float().cpu().numpy()
    sizes = torch.bincount(index, minlength=count)
    agree = features_agree(features[keep], index, count, cfg.feature_threshold)
    tree = cKDTree(points)
    owner = index.cpu().numpy()
    link = torch.zeros(count, count, dtype=torch.bool)
    for a in torch.nonzero(sizes <= cfg.fragment_share * sizes.max()).squeeze(1).tolist():
        near = tree.query_ball_point(points[owner == a], r=cfg.fragment_gap_m)
        pieces, contacts = np.unique(owner[np.concatenate([np.asarray(n, dtype=np.int64) for n in near])],
                                     return_counts=True)
        larger = [b for b in pieces[np.argsort(-contacts, kind="stable")].tolist()
                  if b != a and sizes[a] <= cfg.fragment_share * sizes[b]]
        if not larger:
            continue
        b = larger[0]  # the piece it touches most closely: a handle between two tables joins one
        link[a, b] = bool(agree[a, b])
    return join_linked(segment_ids, link.to(segment_ids.device))


def drop_ceiling_remnants(
    segment_ids: Int[torch.Tensor, " N"], ceiling: Bool[torch.Tensor, " N"]
) -> Int[torch.Tensor, " N"]:
    """-1 on every segment whose points all lie in the ceiling's slab
    (:func:`~lerf3d.objects.shell.ceiling_slab`). Nothing stands on a ceiling, and what hangs from it
    (a lamp) reaches further down than the slab: a segment wholly inside is the ceiling's own surface
    that its plane band left (where the ceiling meets a wall, its plane drifts). Walls keep theirs:
    a picture or a calendar hangs flat on a wall."""
    inside = segment_ids >= 0
    count = int(segment_ids.max()) + 1 if inside.any() else 0
    below = torch.bincount(segment_ids[inside & ~ceiling], minlength=count)  # (S,) points under the slab
    return torch.where(inside & (below[segment_ids.clamp_min(0)] == 0), torch.full_like(segment_ids, -1), segment_ids)


def scene_segments(
    xyz: Float[torch.Tensor, "N 3"], features: Float[torch.Tensor, "N F"], cfg: SegmentConfig
) -> Int[torch.Tensor, " N"]:
    """Segment id per point of a room (-1 on the shell and on fragments); ids < ``cfg.max_tokens``."""
    ids = torch.full((xyz.shape[0],), -1, dtype=torch.long, device=xyz.device)
    shell = structure_mask(xyz, cfg.shell_margin_m, cfg.shell_min_fraction, cfg.shell_band_m)
    inside = torch.nonzero(~shell).squeeze(1)
    segments = segment_points(
        xyz[inside], features[inside], cfg.voxel_m, cfg.feature_threshold, cfg.min_points
    )
    if cfg.merge_stacked:
        segments = merge_stacked(xyz[inside], features[inside], segments, cfg)
    if cfg.merge_fragments:
        segments = merge_fragments(xyz[inside], features[inside], segments, cfg)
    if cfg.split_items:
        segments = split_supported_items(xyz[inside], segments, cfg)
    if cfg.drop_ceiling:
        ceiling = ceiling_slab(xyz, cfg.shell_margin_m, cfg.shell_min_fraction)[inside]
        segments = drop_ceiling_remnants(segments, ceiling)
    sizes = torch.bincount(segments + 1)[1:]  # (S,): largest first again after the split
    rank = torch.empty_like(sizes)
    rank[torch.argsort(sizes, descending=True, stable=True)] = torch.arange(len(sizes))
    segments = torch.where(segments >= 0, rank[segments.clamp_min(0)], segments)
    ids[inside] = torch.where(segments < cfg.max_tokens, segments, torch.full_like(segments, -1))
    return ids
