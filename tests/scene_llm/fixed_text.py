"""A fixed text -> vector map for tests that fit a label bridge (its keys need some text tower)."""

from __future__ import annotations

import torch


def fixed_text_tower(dim: int):
    """``list[str] -> (N, dim)``: each text's vector seeded by its length and last character (any
    fixed map serves: the tests check what the bridge does with its keys, not what they mean)."""

    def encode(texts: list[str]) -> torch.Tensor:
        return torch.stack([torch.randn(dim, generator=torch.Generator().manual_seed(len(t) * 31 + ord(t[-1])))
                            for t in texts])

    return encode
