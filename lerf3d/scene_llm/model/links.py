"""Scene-graph links: each object token followed by the identifier of its nearest other token.

An LLM that reads object tokens one after another has to compare every pair of boxes to say which
object is nearest to the bed; a 135M model fine-tuned on a CPU does not learn that (nearest-object
exact match 0.22 where the tokens' own geometry answers 0.83). Scene-graph LLMs (3DGraphLLM's
k-nearest-neighbour edges, ConceptGraphs' object graph) write such relations into the input
instead. Here each token's block ends with ``near <objJ>``: J is the token whose axis-aligned box is
nearest (Euclidean gap between boxes, 0 when they touch; ties broken by the distance between box
centres), computed from the tokens' own corners, so any scene and any token set get it; with
``neighbour_names`` the link also names J (``near <objJ> desk``, the name its feature is nearest to),
so the answer to "what is closest to the bed?" sits in the bed's own block. A scene
token may also link to the room's structure, as 3D scene graphs (3DSSG) hold walls as nodes:
``by the north wall``, the side of the scene bounds its box is nearest (``wall_links``); egocentric
tokens have no walls. A scene token that stands on another also links to it, ``on <objJ>``
(``support_links``: a support edge, as scene graphs hold "standing on" relations), so "is the lamp on
top of the desk?" reads the lamp's own block. Pure tensor functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int

from lerf3d.scene_llm.model.splice import identifier_text

LINK_FORMAT = "near {}"
"""Text of a link to a token, written after the token it belongs to ("near <obj5>")."""

WALL_NAMES = ("west", "east", "south", "north")
"""The room's sides in the order of ``SceneTokens.wall_gaps`` (x low, x high, y low, y high)."""

WALL_LINK_FORMAT = "by the {} wall"
"""Text of a link to the wall a token's box is nearest ("by the north wall"), after its other link."""


SUPPORT_LINK_FORMAT = "on {}"
"""Text of a link to the token a token stands on ("on <obj5>"), after its nearest link."""

SUPPORT_GAP_M = 0.05
"""How far (metres) a token's bottom may lie from the top of the token it stands on. The segmentation
splits things on a surface off from 1.5 cm above it (``ObjectsConfig.segment.item_clearance_m``) and
fuses points in 2-4 cm voxels, so a resting thing's box starts a voxel or two above its support's."""


def link_text(target: int, name: str | None = None) -> str:
    """The link to token ``target`` (``near <obj5>``), followed by that token's ``name`` when given
    (``near <obj5> desk``)."""
    link = LINK_FORMAT.format(identifier_text(target))
    return link if name is None else f"{link} {name}"


def support_link_text(target: int, name: str | None = None) -> str:
    """The link to the token ``target`` stands on (``on <obj5>``, then its ``name`` when given); ""
    for -1 (it stands on no token)."""
    if target < 0:
        return ""
    link = SUPPORT_LINK_FORMAT.format(identifier_text(target))
    return link if name is None else f"{link} {name}"


def wall_link_text(wall: int) -> str:
    """The link to the wall of index ``wall`` in ``WALL_NAMES`` (``by the north wall``); "" for -1 (no wall)."""
    return WALL_LINK_FORMAT.format(WALL_NAMES[wall]) if wall >= 0 else ""


def pairwise_box_gaps(lower: Float[torch.Tensor, "B T 3"], upper: Float[torch.Tensor, "B T 3"]) -> Float[torch.Tensor, "B T T"]:
    """Euclidean gap between every two axis-aligned boxes of a row (0 when they touch or overlap)."""
    gap = torch.maximum(lower[:, :, None] - upper[:, None], lower[:, None] - upper[:, :, None])  # (B, T, T, 3)
    return gap.clamp_min(0.0).norm(dim=-1)


def nearest_tokens(
    lower: Float[torch.Tensor, "B T 3"], upper: Float[torch.Tensor, "B T 3"], mask: Bool[torch.Tensor, "B T"]
) -> Int[torch.Tensor, "B T"]:
    """For each real token, the index of the real token (not itself) whose box is nearest: smallest
    box gap, then smallest centre distance among those at that gap; -1 at padding and where a row
    has no other real token."""
    if lower.shape != upper.shape or lower.shape[:2] != mask.shape or lower.shape[-1] != 3:
        raise ValueError(f"corners {tuple(lower.shape)}, {tuple(upper.shape)} and mask {tuple(mask.shape)} "
                         "must be (B, T, 3), (B, T, 3) and (B, T)")
    lower, upper = lower.double(), upper.double()
    gaps = pairwise_box_gaps(lower, upper)  # (B, T, T)
    centre = (lower + upper) / 2
    distance = (centre[:, :, None] - centre[:, None]).norm(dim=-1)  # (B, T, T)
    t = mask.shape[1]
    allowed = mask[:, None, :] & ~torch.eye(t, dtype=torch.bool, device=mask.device)[None]  # (B, T, T)
    gaps = gaps.masked_fill(~allowed, float("inf"))
    closest = gaps.amin(dim=-1, keepdim=True)  # (B, T, 1)
    tied = allowed & (gaps <= closest + 1e-9)
    best = distance.masked_fill(~tied, float("inf")).argmin(dim=-1)  # (B, T)
    valid = mask & allowed.any(dim=-1)
    return torch.where(valid, best, torch.full_like(best, -1))


def nearest_walls(gaps: Float[torch.Tensor, "B T 4"], mask: Bool[torch.Tensor, "B T"]) -> Int[torch.Tensor, "B T"]:
    """For each real token, the index in ``WALL_NAMES`` of the wall its box is nearest (smallest gap,
    the first of ``WALL_NAMES`` on a tie); -1 at padding and for tokens with no walls (negative
    gaps: egocentric tokens)."""
    if gaps.shape[:2] != mask.shape or gaps.shape[-1] != len(WALL_NAMES):
        raise ValueError(f"wall gaps {tuple(gaps.shape)} and mask {tuple(mask.shape)} must be (B, T, 4) and (B, T)")
    walled = mask & (gaps >= 0).all(dim=-1)
    return torch.where(walled, gaps.argmin(dim=-1), torch.full_like(mask, -1, dtype=torch.long))


def supporting_tokens(
    lower: Float[torch.Tensor, "B T 3"], upper: Float[torch.Tensor, "B T 3"], mask: Bool[torch.Tensor, "B T"],
    gap: float,
) -> Int[torch.Tensor, "B T"]:
    """For each real token, the real token (not itself) it stands on: z is up, its bottom lies within
    ``gap`` of that token's top, their footprints overlap, and that top is below its own; among several,
    the one whose top is closest to its bottom (then the lower index). -1 at padding and for a token
    that stands on none (on the floor, which is no token)."""
    if lower.shape != upper.shape or lower.shape[:2] != mask.shape or lower.shape[-1] != 3:
        raise ValueError(f"corners {tuple(lower.shape)}, {tuple(upper.shape)} and mask {tuple(mask.shape)} "
                         "must be (B, T, 3), (B, T, 3) and (B, T)")
    lower, upper = lower.double(), upper.double()
    drop = (lower[:, :, None, 2] - upper[:, None, :, 2]).abs()  # (B, T, T): i's bottom to j's top
    footprints = ((lower[:, :, None, :2] < upper[:, None, :, :2])
                  & (lower[:, None, :, :2] < upper[:, :, None, :2])).all(dim=-1)  # (B, T, T)
    below = upper[:, None, :, 2] < upper[:, :, None, 2]  # j's top under i's top
    t = mask.shape[1]
    others = mask[:, :, None] & mask[:, None, :] & ~torch.eye(t, dtype=torch.bool, device=mask.device)[None]
    allowed = others & footprints & below & (drop <= gap)
    best = drop.masked_fill(~allowed, float("inf")).argmin(dim=-1)  # (B, T)
    return torch.where(allowed.any(dim=-1), best, torch.full_like(best, -1))


@dataclass(frozen=True)
class TokenLinks:
    """Which links end each token's block, in block order (``near <objJ>``, ``on <objJ>``, ``by the W
    wall``), and where a token's projector inputs hold what they are computed from."""

    neighbour: bool = False
    """``near <objJ>``: J the token whose box is nearest (:func:`nearest_tokens`)."""
    support: bool = False
    """``on <objJ>``: J the token it stands on (:func:`supporting_tokens`), scene tokens only."""
    wall: bool = False
    """``by the W wall``: the side of the scene its box is nearest (:func:`nearest_walls`)."""
    corners: tuple[slice, slice] | None = None
    """Columns of the lower and upper box corners (in ``xyz_scale`` units); needed by the first two."""
    walls: slice | None = None
    """Columns of the four wall gaps (negative for egocentric tokens); needed by the last two."""
    xyz_scale: float = 1.0
    """Metres per unit of the corner columns."""

    def __post_init__(self) -> None:
        if (self.neighbour or self.support) and self.corners is None:
            raise ValueError("neighbour and support links are computed from the tokens' corners: give their columns")
        if (self.wall or self.support) and self.walls is None:
            raise ValueError("wall and support links read the tokens' wall gaps: give their columns")

    @property
    def any(self) -> bool:
        """Whether a block ends with any link."""
        return self.neighbour or self.support or self.wall

    def texts(self, scene_inputs: Float[torch.Tensor, "B T d_in"], scene_mask: Bool[torch.Tensor, "B T"],
              names: list[list[str]] | None = None) -> list[list[list[str]]]:
        """Per row and token, the text of each of its links in block order ("" where it has none of a
        kind: a lone token, a token on no token, an egocentric token's wall); a linked token is named
        by ``names`` (per row, per token) when given."""
        kinds = []
        if self.neighbour:
            lower, upper = scene_inputs[..., self.corners[0]], scene_inputs[..., self.corners[1]]
            kinds.append((nearest_tokens(lower, upper, scene_mask).tolist(), link_text))
        if self.support or self.wall:
            walls = nearest_walls(scene_inputs[..., self.walls], scene_mask)
        if self.support:
            scene = scene_mask & (walls >= 0)  # egocentric tokens: the camera's axes, z is not up
            lower, upper = scene_inputs[..., self.corners[0]], scene_inputs[..., self.corners[1]]
            kinds.append((supporting_tokens(lower, upper, scene, SUPPORT_GAP_M / self.xyz_scale).tolist(),
                          support_link_text))
        out = [[[] for _ in row] for row in scene_mask.tolist()]
        for targets, write in kinds:
            for b, row in enumerate(targets):
                for t, j in enumerate(row):
                    out[b][t].append("" if j < 0 else write(j, names[b][j] if names else None))
        if self.wall:
            for b, row in enumerate(walls.tolist()):
                for t, w in enumerate(row):
                    out[b][t].append(wall_link_text(w))
        return out
