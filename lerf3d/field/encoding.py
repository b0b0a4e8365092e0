"""Multiresolution hash-grid encoding (Instant-NGP, Müller et al. 2022) in plain PyTorch.

The torch backend follows tiny-cuda-nn's ``HashGrid`` conventions exactly, so its parameters can be
copied into a tcnn encoding (see ``tcnn_parameters``) and the two compared:

- level ``l`` has scale ``s_l = base * b**l - 1`` with ``b = (max/base)**(1/(L-1))`` and
  ``R_l = ceil(s_l) + 1`` vertices per axis; a point ``x`` in [0, 1] sits at ``x * s_l + 0.5``;
- a level whose ``R_l**3`` vertices fit the table is stored densely (``x + R y + R^2 z``), the
  others use the spatial hash ``x*1 ^ y*2654435761 ^ z*805459861 mod T`` (paper, Eq. 4);
- table entries start uniform in [-1e-4, 1e-4] (paper, Sec. 4).

Speed on the CPU comes from doing every level at once: the 8 corner indices and trilinear weights
are built for all (level, point) pairs in corner-major layout (8, L*N) so every elementwise op runs
on long contiguous rows, then one gather reads all corners and one scatter per feature writes the
gradient. Hashed levels sit first in our table at offsets that are multiples of T, which lets the
level offset be folded into the x-term of the XOR instead of costing another pass.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import nn

HASH_PRIMES = (1, 2654435761, 805459861)
"""Per-axis multipliers of the spatial hash (Instant-NGP, Sec. 3, Eq. 4)."""
INIT_RANGE = 1e-4
"""Table entries start in U(-1e-4, 1e-4) (Instant-NGP, Sec. 4)."""
TCNN_ALIGNMENT = 8
"""tiny-cuda-nn rounds each dense level's size up to a multiple of 8 for aligned access."""


@dataclass(frozen=True)
class HashGridConfig:
    """Geometry of one multiresolution hash grid (defaults: nerfacto's, Tancik et al. 2023)."""

    num_levels: int = 16
    """Number of resolution levels L."""
    features_per_level: int = 2
    """Feature channels F stored per table entry."""
    log2_table_size: int = 19
    """log2 of the entries T per hashed level."""
    base_resolution: int = 16
    """Vertices per axis of the coarsest level."""
    max_resolution: int = 2048
    """Vertices per axis of the finest level."""
    backend: Literal["torch", "tcnn"] = "torch"
    """"torch": the reference here; "tcnn": tiny-cuda-nn's fused kernel (CUDA and tinycudann needed)."""

    def __post_init__(self) -> None:
        if self.num_levels < 1:
            raise ValueError(f"num_levels must be >= 1, got {self.num_levels}")
        if self.features_per_level < 1:
            raise ValueError(f"features_per_level must be >= 1, got {self.features_per_level}")
        if not 4 <= self.log2_table_size <= 30:
            raise ValueError(f"log2_table_size must be in [4, 30], got {self.log2_table_size}")
        if not 2 <= self.base_resolution <= self.max_resolution:
            raise ValueError(
                f"need 2 <= base_resolution <= max_resolution, got {self.base_resolution}, "
                f"{self.max_resolution}"
            )
        if self.backend not in ("torch", "tcnn"):
            raise ValueError(f"backend must be 'torch' or 'tcnn', got {self.backend!r}")

    @property
    def output_dim(self) -> int:
        return self.num_levels * self.features_per_level

    @property
    def growth_factor(self) -> float:
        """Per-level scale b (tcnn's ``per_level_scale``)."""
        if self.num_levels == 1:
            return 1.0
        return math.exp(
            (math.log(self.max_resolution) - math.log(self.base_resolution)) / (self.num_levels - 1)
        )


@dataclass(frozen=True)
class GridLevel:
    """Where one level lives and how it is indexed."""

    scale: float
    """Positions map to ``x * scale + 0.5`` grid units."""
    resolution: int
    """Vertices per axis."""
    dense: bool
    """True when the level is stored densely (no hashing)."""
    size: int
    """Table entries used by the level."""
    offset: int
    """First entry of the level in our table."""
    tcnn_offset: int
    """First entry of the level in tiny-cuda-nn's table (levels in order)."""


def tcnn_available() -> bool:
    """True when tinycudann is importable and CUDA is present (the tcnn backend's requirements)."""
    return torch.cuda.is_available() and importlib.util.find_spec("tinycudann") is not None


def grid_levels(config: HashGridConfig) -> tuple[GridLevel, ...]:
    """Per-level geometry, with tcnn's float32 scale arithmetic; hashed levels first in our table."""
    table = 1 << config.log2_table_size
    log2_growth = math.log2(config.growth_factor)
    specs = []
    for level in range(config.num_levels):
        # float32 like tcnn's exp2f so resolutions agree at the rounding boundaries.
        scale = float(torch.tensor(level * log2_growth).exp2() * config.base_resolution - 1.0)
        resolution = math.ceil(scale) + 1
        dense = resolution**3 <= table
        size = -(-(resolution**3) // TCNN_ALIGNMENT) * TCNN_ALIGNMENT if dense else table
        specs.append((scale, resolution, dense, size))
    num_hashed = sum(not s[2] for s in specs)
    levels, tcnn_offset, dense_offset, hashed_seen = [], 0, num_hashed * table, 0
    for scale, resolution, dense, size in specs:
        if dense:
            offset, dense_offset = dense_offset, dense_offset + size
        else:
            offset, hashed_seen = hashed_seen * table, hashed_seen + 1
        levels.append(GridLevel(scale, resolution, dense, size, offset, tcnn_offset))
        tcnn_offset += size
    return tuple(levels)


def _level_terms(
    cells: Int[torch.Tensor, "L 3 N"], levels: tuple[GridLevel, ...], log2_table_size: int
) -> Int[torch.Tensor, "2 L 3 N"]:
    """Each axis's additive (dense) or XOR (hashed) share of the index, for low and high corners.

    Hashing keeps only the low ``log2_table_size`` bits, and those depend only on the low bits of
    the factors, so the primes are masked first and the products stay in int32.
    """
    device = cells.device
    if levels[0].dense:
        res = torch.tensor([lv.resolution for lv in levels], device=device, dtype=torch.int32)
        strides = torch.stack([torch.ones_like(res), res, res * res], dim=1)[:, :, None]  # (L, 3, 1)
        terms = cells.new_empty(2, *cells.shape)  # (2, L, 3, N)
        torch.mul(cells, strides, out=terms[0])
        torch.add(terms[0], strides, out=terms[1])
        return terms
    mask = (1 << log2_table_size) - 1
    primes = torch.tensor([p & mask for p in HASH_PRIMES], device=device, dtype=cells.dtype)[:, None]
    terms = cells.new_empty(2, *cells.shape)  # (2, L, 3, N)
    torch.mul(cells, primes, out=terms[0])
    torch.add(terms[0], primes, out=terms[1])
    terms.bitwise_and_(mask)
    offsets = torch.tensor([lv.offset for lv in levels], device=device, dtype=cells.dtype)
    terms[:, :, 0].add_(offsets[:, None])  # offsets are multiples of T: adding == OR-ing bits
    return terms


def _index_dtype(levels: tuple[GridLevel, ...], log2_table_size: int) -> torch.dtype:
    """int32 when masked hash products and table rows fit in it (all practical grids), else int64."""
    biggest = max(max(lv.resolution for lv in levels) << log2_table_size, sum(lv.size for lv in levels))
    return torch.int32 if biggest < 2**31 else torch.int64


def corner_indices_and_fractions(
    coords: Float[torch.Tensor, "N 3"], levels: tuple[GridLevel, ...], log2_table_size: int
) -> tuple[Int[torch.Tensor, "8 LN"], Float[torch.Tensor, "3 LN"]]:
    """Table rows of the 8 corners of every (level, point), level-major, and the position in the cell.

    Corner ``k = 4 i + 2 j + l`` takes the high vertex along z if i, along y if j, along x if l.
    The fractions carry the autograd graph back to ``coords``.
    """
    n, num_levels = coords.shape[0], len(levels)
    scales = torch.tensor([lv.scale for lv in levels], dtype=coords.dtype, device=coords.device)
    grid = torch.addcmul(torch.full_like(scales, 0.5)[:, None, None], scales[:, None, None], coords.t()[None])
    # grid: (L, 3, N) positions in grid units
    cells_f = grid.detach().floor()
    frac = grid - cells_f
    index_dtype = _index_dtype(levels, log2_table_size)
    cells = cells_f.to(index_dtype)
    index = torch.empty(2, 2, 2, num_levels, n, dtype=index_dtype, device=coords.device)
    num_dense = sum(lv.dense for lv in levels)  # resolutions grow: dense levels come first
    for group in (slice(0, num_dense), slice(num_dense, num_levels)):
        if levels[group]:
            _write_corner_indices(index[:, :, :, group], cells[group], levels[group], log2_table_size)
    fracs = frac.transpose(0, 1).reshape(3, num_levels * n)  # (3, L*N): x, y, z
    return index.view(8, num_levels * n), fracs  # index: (8, L*N)


def _write_corner_indices(
    out: Int[torch.Tensor, "2 2 2 L N"],
    cells: Int[torch.Tensor, "L 3 N"],
    levels: tuple[GridLevel, ...],
    log2_table_size: int,
) -> None:
    """Fill ``out[i, j, l]`` with the table row of corner (z + i, y + j, x + l), for levels of one kind."""
    terms = _level_terms(cells, levels, log2_table_size)  # (2, L, 3, N)
    tx, ty, tz = terms[:, :, 0], terms[:, :, 1], terms[:, :, 2]  # (2, L, N) each
    if not levels[0].dense:
        torch.bitwise_xor((tz[:, None] ^ ty[None])[:, :, None], tx[None, None], out=out)
        return
    torch.add((tz[:, None] + ty[None])[:, :, None], tx[None, None], out=out)
    sizes, offsets, res = (
        torch.tensor([getattr(lv, key) for lv in levels], device=out.device, dtype=out.dtype)[:, None]
        for key in ("size", "offset", "resolution")
    )
    if bool((cells + 1 >= res[:, :, None]).any()):
        # A high corner at vertex R (x near 1) runs past the level; tcnn wraps it modulo the size,
        # and the sum is below twice the size, so one conditional subtraction does the same.
        out.copy_(torch.where(out >= sizes, out - sizes, out))
    out.add_(offsets)


def trilinear_weights(fracs: Float[torch.Tensor, "3 P"]) -> Float[torch.Tensor, "8 P"]:
    """Weight of corner k = 4 i + 2 j + l: (fz or 1 - fz) * (fy or 1 - fy) * (fx or 1 - fx)."""
    wx, wy, wz = (torch.stack([1.0 - f, f]) for f in fracs)  # (2, P) each
    return ((wz[:, None] * wy[None])[:, :, None] * wx[None, None]).view(8, -1)  # (8, P)


def _row_view(table: Float[torch.Tensor, "S F"]) -> tuple[torch.Tensor, bool]:
    """A 1-D view with one element per row when a row is 4/8/16 bytes: one gather reads a row."""
    row_bytes = table.shape[1] * table.element_size()
    wide = {4: torch.float32, 8: torch.float64, 16: torch.complex128}.get(row_bytes)
    if wide is None or not table.is_contiguous():
        return table, False
    return table.view(wide).view(-1), True  # (S,) one wide element per row


def _gather_corners(table: Float[torch.Tensor, "S F"], index: Int[torch.Tensor, "8 P"]) -> torch.Tensor:
    flat, packed = _row_view(table)
    rows = flat.index_select(0, index.reshape(-1))  # (8*P,) packed rows or (8*P, F)
    if packed:
        rows = rows.view(table.dtype)  # (8*P*F,) unpacked
    return rows.view(8, index.shape[1], table.shape[1])  # (8, P, F)


def _trilinear(
    corners: Float[torch.Tensor, "8 P"], fracs: Float[torch.Tensor, "3 P"]
) -> Float[torch.Tensor, "P"]:
    """Three nested lerps (x, then y, then z): never materialises the 8 corner weights."""
    c = corners.view(2, 2, 2, -1)  # (z, y, x, P)
    cx = torch.lerp(c[:, :, 0], c[:, :, 1], fracs[0])  # (2, 2, P)
    cy = torch.lerp(cx[:, 0], cx[:, 1], fracs[1])  # (2, P)
    return torch.lerp(cy[0], cy[1], fracs[2])


def _trilinear_fraction_grads(
    corners: Float[torch.Tensor, "8 P"], fracs: Float[torch.Tensor, "3 P"]
) -> Float[torch.Tensor, "3 P"]:
    """d(trilinear)/d(fx, fy, fz): differences across one axis, interpolated along the other two."""
    c = corners.view(2, 2, 2, -1)  # (z, y, x, P)
    fx, fy, fz = fracs
    dx = c[:, :, 1] - c[:, :, 0]  # (z, y, P)
    dx = torch.lerp(torch.lerp(dx[0, 0], dx[0, 1], fy), torch.lerp(dx[1, 0], dx[1, 1], fy), fz)
    cx = torch.lerp(c[:, :, 0], c[:, :, 1], fx)  # (z, y, P)
    dy = torch.lerp(cx[0, 1] - cx[0, 0], cx[1, 1] - cx[1, 0], fz)
    cy = torch.lerp(cx[:, 0], cx[:, 1], fy)  # (z, P)
    return torch.stack([dx, dy, cy[1] - cy[0]])


class _InterpolateCorners(torch.autograd.Function):
    """(F, P) trilinear features of table rows ``index``; scatter-based backward (no sort, no atomics)."""

    @staticmethod
    def forward(ctx, table, index, fracs):  # type: ignore[override]
        ctx.save_for_backward(table, index, fracs)
        corners = _gather_corners(table, index)  # (8, P, F)
        return torch.stack([_trilinear(corners[..., f], fracs) for f in range(table.shape[1])])

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        table, index, fracs = ctx.saved_tensors
        grad_table = grad_fracs = None
        if ctx.needs_input_grad[0]:
            flat_index, weights = index.view(-1), trilinear_weights(fracs)  # (8*P,), (8, P)
            per_feature = [
                torch.bincount(flat_index, weights=(weights * g).view(-1), minlength=table.shape[0])  # (S,)
                for g in grad_out  # g: (P,) gradient of one feature
            ]
            grad_table = torch.stack(per_feature, dim=1).to(table.dtype)  # (S, F)
        if ctx.needs_input_grad[2]:
            corners = _gather_corners(table, index)  # (8, P, F)
            grad_fracs = sum(
                _trilinear_fraction_grads(corners[..., f], fracs) * grad_out[f] for f in range(table.shape[1])
            )
        return grad_table, None, grad_fracs


class HashGrid(nn.Module):
    """Encodes points in [0, 1]^3 (after contraction) to (N, num_levels * features_per_level)."""

    def __init__(self, config: HashGridConfig) -> None:
        super().__init__()
        self.config = config
        self.levels = grid_levels(config)
        total = sum(lv.size for lv in self.levels)
        self._tcnn: nn.Module | None = None
        if config.backend == "tcnn":
            self._tcnn = _build_tcnn(config)
            self.table = None
        else:
            init = torch.rand(total, config.features_per_level) * (2 * INIT_RANGE) - INIT_RANGE
            self.table = nn.Parameter(init)

    @property
    def output_dim(self) -> int:
        return self.config.output_dim

    def forward(self, coords: Float[torch.Tensor, "N 3"]) -> Float[torch.Tensor, "N D"]:
        """Concatenated per-level features, level-major like tcnn; inputs clamped into [0, 1]."""
        coords = coords.clamp(0.0, 1.0)
        if self._tcnn is not None:
            return self._tcnn(coords).float()
        coords = coords.to(self.table.dtype)
        n, levels = coords.shape[0], self.config.num_levels
        index, fracs = corner_indices_and_fractions(coords, self.levels, self.config.log2_table_size)
        feats = _InterpolateCorners.apply(self.table, index, fracs)  # (F, L*N)
        return feats.view(-1, levels, n).permute(2, 1, 0).reshape(n, -1)  # (N, L*F), level-major

    def tcnn_parameters(self) -> Float[torch.Tensor, "P"]:
        """Our table re-ordered into tiny-cuda-nn's flat parameter layout (levels in order)."""
        assert self.table is not None, "tcnn_parameters needs the torch backend"
        parts = [self.table[lv.offset : lv.offset + lv.size] for lv in self.levels]
        return torch.cat(parts).reshape(-1)  # (sum sizes * F,)


def _build_tcnn(config: HashGridConfig) -> nn.Module:
    if not tcnn_available():
        raise RuntimeError(
            "HashGridConfig.backend='tcnn' needs CUDA and the tinycudann package "
            "(pip install git+https://github.com/NVlabs/tiny-cuda-nn/#subdirectory=bindings/torch); "
            "use backend='torch' otherwise"
        )
    import tinycudann as tcnn

    return tcnn.Encoding(
        n_input_dims=3,
        encoding_config={
            "otype": "HashGrid",
            "n_levels": config.num_levels,
            "n_features_per_level": config.features_per_level,
            "log2_hashmap_size": config.log2_table_size,
            "base_resolution": config.base_resolution,
            "per_level_scale": config.growth_factor,
            "interpolation": "Linear",
        },
        dtype=torch.float32,
    )
