"""Splice projected scene tokens into an LLM prompt at its ``<scene>`` placeholder.

Each sequence holds exactly one placeholder token. Its embedding is replaced by that sample's T_b
scene tokens; the rest of the text moves right by T_b - 1. Samples with fewer tokens than the
batch's T are packed tight (text, scene, text) and padded on the padding side, so a right-padded
batch stays right-padded with contiguous positions (no holes in the attention mask). Scene positions
carry ``IGNORE_INDEX`` labels: the LLM is never asked to predict a scene token.
Pure tensor code: no loop over the batch, differentiable in both embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Bool, Float, Int

from lerf3d.scene_llm.data.language import IDENTIFIER_FORMAT

IGNORE_INDEX = -100
"""Label the loss skips: the default ``ignore_index`` of torch's cross-entropy, which Hugging Face
causal LMs use; LLaVA marks image positions with it the same way."""

PaddingSide = Literal["right", "left"]

def identifier_text(index: int) -> str:
    """``<objK>``: the identifier of the K-th scene token of a prompt, spliced before that token as the
    LLM's own embeddings of its text (:data:`~lerf3d.scene_llm.data.language.IDENTIFIER_FORMAT`), so
    the identifier is fixed (no new vocabulary) and an answer can name an object by writing it."""
    if index < 0:
        raise ValueError(f"object identifiers are numbered from 0, got {index}")
    return IDENTIFIER_FORMAT.format(index)


@dataclass(frozen=True, eq=False)
class SplicedBatch:
    """What the LLM's forward takes instead of ``input_ids``. L' = L - 1 + T."""

    inputs_embeds: Float[torch.Tensor, "B Lp H"]
    """Text embeddings with each placeholder replaced by its scene tokens; zeros at padding."""
    attention_mask: Int[torch.Tensor, "B Lp"]
    """1 for real text and scene tokens, 0 for padding."""
    position_ids: Int[torch.Tensor, "B Lp"]
    """Positions counting only attended tokens (0 at padding): right for either padding side."""
    labels: Int[torch.Tensor, "B Lp"] | None
    """Input labels moved with their tokens; IGNORE_INDEX at scene and padding positions."""
    scene_start: Int[torch.Tensor, " B"]
    """Index in L' of each sample's first scene token."""
    scene_length: Int[torch.Tensor, " B"]
    """Number of scene tokens of each sample (T_b <= T)."""

    @property
    def scene_mask(self) -> Bool[torch.Tensor, "B Lp"]:
        """True at the positions holding scene tokens."""
        j = torch.arange(self.inputs_embeds.shape[1], device=self.inputs_embeds.device)[None]  # (1, L')
        start = self.scene_start[:, None]  # (B, 1)
        return (j >= start) & (j < start + self.scene_length[:, None])


@dataclass(frozen=True, eq=False)
class _Layout:
    """Where each output position reads from (all (B, L'))."""

    in_scene: torch.Tensor
    is_text: torch.Tensor
    text_index: torch.Tensor
    scene_index: torch.Tensor


def find_placeholders(input_ids: Int[torch.Tensor, "B L"], placeholder_id: int) -> Int[torch.Tensor, " B"]:
    """Index of the single placeholder in each row; ValueError naming the rows that have 0 or > 1."""
    hits = input_ids == placeholder_id  # (B, L)
    counts = hits.sum(dim=1)
    bad = torch.nonzero(counts != 1).flatten().tolist()
    if bad:
        detail = ", ".join(f"row {b}: {int(counts[b])}" for b in bad[:8])
        raise ValueError(f"every sequence needs exactly one <scene> placeholder (id {placeholder_id}); "
                         f"found {detail}{' ...' if len(bad) > 8 else ''}")
    return hits.long().argmax(dim=1)


def ids_for_embedding(
    input_ids: Int[torch.Tensor, "B L"], placeholder_id: int, fill_id: int = 0
) -> Int[torch.Tensor, "B L"]:
    """``input_ids`` with placeholders swapped for a real token, so the LLM's embedding table can be
    indexed even when the placeholder id lies outside it (its embedding is discarded by the splice)."""
    return torch.where(input_ids == placeholder_id, torch.full_like(input_ids, fill_id), input_ids)


def pad_scene_tokens(
    tokens: Sequence[Float[torch.Tensor, "T_i H"]],
) -> tuple[Float[torch.Tensor, "B T H"], Bool[torch.Tensor, "B T"]]:
    """Stack per-sample token sets of different lengths: zeros after each set, mask True on real ones."""
    if not tokens:
        raise ValueError("pad_scene_tokens needs at least one sample")
    widths = {t.shape[-1] for t in tokens}
    if len(widths) != 1 or any(t.ndim != 2 for t in tokens):
        shapes = [tuple(t.shape) for t in tokens]
        raise ValueError(f"scene tokens must all be (T_i, H) with one H, got {shapes}")
    lengths = torch.tensor([t.shape[0] for t in tokens], device=tokens[0].device)
    padded = torch.nn.utils.rnn.pad_sequence(list(tokens), batch_first=True)  # (B, T, H)
    mask = torch.arange(padded.shape[1], device=padded.device)[None] < lengths[:, None]  # (B, T)
    return padded, mask


def left_pad(rows: Sequence[Sequence[int]], pad_id: int, device=None) -> tuple[Int[torch.Tensor, "B L"], Int[torch.Tensor, "B L"]]:
    """Left-padded ids and mask: generation appends on the right, so every row ends at the same column."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, length - len(row):] = torch.tensor(row, device=device)
        mask[i, length - len(row):] = 1
    return ids, mask


def flatten_slots(
    projected: Float[torch.Tensor, "B T K H"], scene_mask: Bool[torch.Tensor, "B T"]
) -> tuple[Float[torch.Tensor, "B TK H"], Bool[torch.Tensor, "B TK"]]:
    """Scene tokens that each take K consecutive positions (a spelled-out label bridge), laid out
    token after token: (B, T * K, H) and the mask repeated K times per token."""
    b, t, k, h = projected.shape
    if tuple(scene_mask.shape) != (b, t):
        raise ValueError(f"scene mask {tuple(scene_mask.shape)} does not match tokens {(b, t)}")
    return projected.reshape(b, t * k, h), scene_mask.repeat_interleave(k, dim=1)


def append_tails(
    scene: Float[torch.Tensor, "B T H"], scene_mask: Bool[torch.Tensor, "B T"],
    tails: Sequence[Float[torch.Tensor, "M_i H"]],
) -> tuple[Float[torch.Tensor, "B Tp H"], Bool[torch.Tensor, "B Tp"]]:
    """Each row's real scene positions followed by ``tails[i]`` (e.g. a census line's embeddings),
    padded after each row again (:func:`pad_scene_tokens`)."""
    b, t, _ = scene.shape
    if tuple(scene_mask.shape) != (b, t) or len(tails) != b:
        raise ValueError(f"scene {tuple(scene.shape)}, mask {tuple(scene_mask.shape)} and {len(tails)} "
                         "tails do not match")
    counts = scene_mask.sum(dim=1).tolist()
    if any(not bool(scene_mask[i, :n].all()) for i, n in enumerate(counts)):
        raise ValueError("real scene positions must come first in each row (pad_scene_tokens)")
    return pad_scene_tokens([torch.cat([scene[i, :n], tails[i].to(scene.dtype)]) for i, n in enumerate(counts)])


POSITION_BINS = 10
"""Bins per axis of :func:`position_digits`: one decimal digit, tenths of the room."""


def position_digits(relative: Float[torch.Tensor, "... C"]) -> Int[torch.Tensor, "... C"]:
    """Each coordinate in [-1, 1] (room-relative: -1 the west / south wall) as its tenth of the span,
    0..9: floor((r + 1) / 2 * 10), clamped (a point on the east wall is 9, not 10)."""
    return torch.floor((relative.float() + 1) / 2 * POSITION_BINS).long().clamp(0, POSITION_BINS - 1)


def append_positions(
    slots: Float[torch.Tensor, "B T K H"], digits: Int[torch.Tensor, "B T C"], digit_embeddings: Float[torch.Tensor, "10 H"]
) -> Float[torch.Tensor, "B T Kp H"]:
    """Each token's slots followed by the embeddings of its C position digits: K + C positions."""
    return torch.cat([slots, digit_embeddings.to(slots.dtype)[digits]], dim=2)


def name_order(names: Int[torch.Tensor, "B T"], scene_mask: Bool[torch.Tensor, "B T"]) -> Int[torch.Tensor, "B T"]:
    """Each row's token indices grouped by name: sorted by ``names`` (an index per token), ties kept
    in token order, padding last. Laid out in this order, the tokens that share a name sit side by
    side (as an inventory lists them), so listing every chair is copying one run of tokens."""
    if names.shape != scene_mask.shape:
        raise ValueError(f"names {tuple(names.shape)} and scene mask {tuple(scene_mask.shape)} differ")
    last = int(names.max()) + 1 if names.numel() else 0
    key = torch.where(scene_mask, names.long(), torch.full_like(names.long(), last))
    return torch.argsort(key, dim=1, stable=True)


def interleave_identifiers(
    projected: Float[torch.Tensor, "B T K H"],
    scene_mask: Bool[torch.Tensor, "B T"],
    identifiers: Sequence[Float[torch.Tensor, "J_i H"]],
    links: Sequence[Sequence[Float[torch.Tensor, "M H"]]] | None = None,
    order: Int[torch.Tensor, "B T"] | None = None,
) -> tuple[Float[torch.Tensor, "B Tp H"], Bool[torch.Tensor, "B Tp"]]:
    """Each sample's real scene tokens laid out as ``[id_0, slots_0, id_1, slots_1, ...]``, where
    ``identifiers[i]`` holds the J_i embeddings of identifier i (its text's tokens) and ``slots_i`` the
    K projected positions of token i; padded after each sample (``pad_scene_tokens``). ``links[b][k]``,
    when given, follows ``slots_k`` of sample b (its scene-graph link, :mod:`.links`; may be empty).
    ``order[b]``, when given, is the order the blocks are laid out in (a permutation of the row's
    real tokens first, as :func:`name_order` gives); each block keeps its token's identifier."""
    b, t, _, h = projected.shape
    if tuple(scene_mask.shape) != (b, t):
        raise ValueError(f"scene mask {tuple(scene_mask.shape)} does not match tokens {(b, t)}")
    counts = scene_mask.sum(dim=1).tolist()
    if max(counts, default=0) > len(identifiers):
        raise ValueError(f"{max(counts)} scene tokens but only {len(identifiers)} identifiers")
    if any(not bool(scene_mask[i, :n].all()) for i, n in enumerate(counts)):
        raise ValueError("real scene tokens must come first in each row (pad_scene_tokens)")
    if links is not None and any(len(links[i]) < n for i, n in enumerate(counts)):
        raise ValueError("need a link (possibly empty) for every real scene token")
    if order is not None and (tuple(order.shape) != (b, t) or any(
            sorted(order[i, :n].tolist()) != list(range(n)) for i, n in enumerate(counts))):
        raise ValueError("order must put a permutation of each row's real tokens first")
    rows = []
    for i, n in enumerate(counts):
        sequence = range(n) if order is None else order[i, :n].tolist()
        parts = [part for k in sequence for part in
                 (identifiers[k].to(projected.dtype), projected[i, k],
                  *(() if links is None else (links[i][k].to(projected.dtype),)))]
        rows.append(torch.cat(parts) if parts else projected.new_zeros(0, h))
    return pad_scene_tokens(rows)


def splice_scene_tokens(
    input_ids: Int[torch.Tensor, "B L"],
    attention_mask: Int[torch.Tensor, "B L"],
    text_embeds: Float[torch.Tensor, "B L H"],
    scene_tokens: Float[torch.Tensor, "B T H"],
    placeholder_id: int,
    labels: Int[torch.Tensor, "B L"] | None = None,
    scene_token_mask: Bool[torch.Tensor, "B T"] | None = None,
    padding_side: PaddingSide = "right",
) -> SplicedBatch:
    """Replace each sequence's placeholder by its scene tokens (see the module docstring).

    ``text_embeds`` is the LLM's embedding layer applied to ``input_ids`` (see ``ids_for_embedding``);
    ``scene_token_mask`` marks each sample's real tokens, which must come first (``pad_scene_tokens``).
    """
    length = input_ids.shape[-1]
    lengths = _check_inputs(input_ids, attention_mask, text_embeds, scene_tokens, labels, scene_token_mask)
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    start = find_placeholders(input_ids, placeholder_id)
    if not bool(attention_mask.gather(1, start[:, None]).all()):
        raise ValueError("a <scene> placeholder sits in a padded (attention_mask 0) position")
    layout, scene_start = _layout(start, lengths, length, scene_tokens.shape[1], padding_side)

    hidden = text_embeds.shape[-1]
    text = text_embeds.gather(1, layout.text_index[..., None].expand(-1, -1, hidden))  # (B, L', H)
    embeds = torch.where(layout.is_text[..., None], text, torch.zeros_like(text))
    if scene_tokens.shape[1] > 0:
        scene = scene_tokens.to(text_embeds.dtype).gather(
            1, layout.scene_index[..., None].expand(-1, -1, hidden))  # (B, L', H)
        embeds = torch.where(layout.in_scene[..., None], scene, embeds)

    text_mask = attention_mask.gather(1, layout.text_index) * layout.is_text
    mask = torch.where(layout.in_scene, torch.ones_like(text_mask), text_mask).long()
    new_labels = None
    if labels is not None:
        moved = labels.gather(1, layout.text_index)
        new_labels = torch.where(layout.is_text, moved, torch.full_like(moved, IGNORE_INDEX))
    position_ids = (mask.cumsum(dim=1) - 1).clamp_min(0) * mask
    return SplicedBatch(embeds, mask, position_ids, new_labels, scene_start, lengths)


def causal_only(attention_mask: Int[torch.Tensor, "B L"],
                position_ids: Int[torch.Tensor, "B L"]) -> tuple[Int[torch.Tensor, "B L"] | None, Int[torch.Tensor, "B L"]]:
    """The attention mask and positions a causal LM needs for a batch: ``(None, 0 1 2 ...)`` when
    every row is right-padded (its real positions first, then only padding), the inputs otherwise.

    In a causal LM a real position attends to itself and earlier positions only, so padding after the
    last real position is never seen by one: the outputs at real positions are those of the masked
    batch. Without a padding mask the attention kernel takes its causal path rather than
    materialising a (B, L, L) mask; the positions run on through the padding so that they do not
    read as a second sequence packed into the row (Hugging Face's packed-sequence detection)."""
    if attention_mask.shape != position_ids.shape or attention_mask.dim() != 2:
        raise ValueError(f"attention mask {tuple(attention_mask.shape)} and positions "
                         f"{tuple(position_ids.shape)} must both be (B, L)")
    if bool((attention_mask[:, 1:] > attention_mask[:, :-1]).any()):  # a real position after padding
        return attention_mask, position_ids
    length = attention_mask.shape[1]
    return None, torch.arange(length, device=position_ids.device).expand_as(position_ids)


def _layout(
    start: torch.Tensor, lengths: torch.Tensor, length: int, num_tokens: int, padding_side: PaddingSide
) -> tuple[_Layout, torch.Tensor]:
    """Source of every output position, and where each sample's scene span starts in L'."""
    out_length = length - 1 + num_tokens
    j = torch.arange(out_length, device=start.device)[None]  # (1, L')
    # left padding: push each packed sample right by its unused scene slots so they pad the front
    shift = (num_tokens - lengths)[:, None] if padding_side == "left" else torch.zeros_like(lengths)[:, None]
    local = j - shift  # (B, L'): position in the sample's tightly packed sequence
    first, count = start[:, None], lengths[:, None]  # (B, 1)
    in_scene = (local >= first) & (local < first + count)
    text_index = torch.where(local < first, local, local - count + 1)  # (B, L')
    is_text = ~in_scene & (text_index >= 0) & (text_index < length)
    layout = _Layout(
        in_scene=in_scene,
        is_text=is_text,
        text_index=text_index.clamp(0, length - 1),
        scene_index=(local - first).clamp(0, max(num_tokens - 1, 0)),
    )
    return layout, start + shift[:, 0]


def _check_inputs(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    text_embeds: torch.Tensor,
    scene_tokens: torch.Tensor,
    labels: torch.Tensor | None,
    scene_token_mask: torch.Tensor | None,
) -> torch.Tensor:
    """Validate shapes; return each sample's scene-token count (B,)."""
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must be (B, L), got {tuple(input_ids.shape)}")
    batch, length = input_ids.shape
    for name, tensor in (("attention_mask", attention_mask), ("labels", labels)):
        if tensor is not None and tuple(tensor.shape) != (batch, length):
            raise ValueError(f"{name} must be {(batch, length)} like input_ids, got {tuple(tensor.shape)}")
    if text_embeds.ndim != 3 or tuple(text_embeds.shape[:2]) != (batch, length):
        raise ValueError(f"text_embeds must be ({batch}, {length}, H), got {tuple(text_embeds.shape)}")
    width = text_embeds.shape[2]
    if scene_tokens.ndim != 3 or scene_tokens.shape[0] != batch or scene_tokens.shape[2] != width:
        raise ValueError(f"scene_tokens must be ({batch}, T, {width}) (projected to the LLM width), "
                         f"got {tuple(scene_tokens.shape)}")
    num_tokens = scene_tokens.shape[1]
    if scene_token_mask is None:
        return torch.full((batch,), num_tokens, dtype=torch.long, device=input_ids.device)
    if tuple(scene_token_mask.shape) != (batch, num_tokens):
        raise ValueError(f"scene_token_mask must be {(batch, num_tokens)}, "
                         f"got {tuple(scene_token_mask.shape)}")
    mask = scene_token_mask.bool()
    lengths = mask.sum(dim=1)
    prefix = torch.arange(num_tokens, device=mask.device)[None] < lengths[:, None]  # (B, T)
    if not torch.equal(mask, prefix):
        raise ValueError("scene_token_mask must mark a prefix of each row (real tokens first, padding "
                         "after), as pad_scene_tokens builds it")
    return lengths.long().to(input_ids.device)
