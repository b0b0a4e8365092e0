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
tokens have no walls. Pure tensor functions.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float, Int

from lerf3d.scene_llm.model.splice import identifier_text

LINK_FORMAT = "near {}"
"""Text of a link to a token, written after the token it belongs to ("near <obj5>")."""

WALL_NAMES = ("west", "east", "south", "north")
"""The room's sides in the order of ``SceneTokens.wall_gaps`` (x low, x high, y low, y high)."""

WALL_LINK_FORMAT = "by the {} wall"
"""Text of a link to the wall a token's box is nearest ("by the north wall"), after its other link."""


def link_text(target: int, name: str | None = None) -> str:
    """The link to token ``target`` (``near <obj5>``), followed by that token's ``name`` when given
    (``near <obj5> desk``)."""
    link = LINK_FORMAT.format(identifier_text(target))
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
