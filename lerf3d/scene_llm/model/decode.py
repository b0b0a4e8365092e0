"""Greedy decoding with a KV cache from prompt embeddings (the scene already spliced in)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float, Int
from torch import nn


@torch.no_grad()
def greedy_decode(
    llm: nn.Module,
    embeds: Float[torch.Tensor, "B L H"],
    attention_mask: Int[torch.Tensor, "B L"],
    position_ids: Int[torch.Tensor, "B L"],
    max_new_tokens: int,
    stop_ids: Sequence[int],
) -> list[list[int]]:
    """Argmax decoding with the model's KV cache; each row stops at its first stop id (excluded).

    Our own loop rather than ``generate``: left-padded rows need explicit position ids, which the
    generic ``generate`` derives differently across model families.
    """
    out = llm(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids, use_cache=True)
    cache, mask = out.past_key_values, attention_mask
    positions = position_ids.max(dim=1).values  # (B,) last real position per row
    stops = torch.tensor(list(stop_ids), device=embeds.device)
    done = torch.zeros(embeds.shape[0], dtype=torch.bool, device=embeds.device)
    generated: list[list[int]] = [[] for _ in range(embeds.shape[0])]
    logits = out.logits[:, -1]
    for _ in range(max_new_tokens):
        token = logits.argmax(dim=-1)  # (B,)
        done |= torch.isin(token, stops)
        for row in torch.nonzero(~done).flatten().tolist():
            generated[row].append(int(token[row]))
        if bool(done.all()):
            break
        positions = positions + 1
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)  # (B, L + t)
        out = llm(input_ids=token[:, None], attention_mask=mask, position_ids=positions[:, None],
                  past_key_values=cache, use_cache=True)
        cache, logits = out.past_key_values, out.logits[:, -1]
    return generated
