"""Least-recently-used cache of phrase embeddings: a query session re-encodes the same phrases
(and the canonical negatives) constantly, and a text tower forward is the slow part."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from jaxtyping import Float

DEFAULT_PHRASE_CACHE_SIZE = 4096
"""Phrases kept per encoder; embeddings are a few KB each."""


class PhraseCache:
    """Wraps a batch text encoder; encodes only phrases it has not seen (in one batch)."""

    def __init__(
        self,
        encode: Callable[[list[str]], Float[torch.Tensor, "P D"]],
        maxsize: int = DEFAULT_PHRASE_CACHE_SIZE,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"phrase cache size must be >= 1, got {maxsize}")
        self._encode = encode
        self._maxsize = maxsize
        self._store: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.misses = 0
        """Phrases that went through the text tower (for tests and stats)."""

    def __len__(self) -> int:
        return len(self._store)

    def __call__(self, phrases: list[str]) -> Float[torch.Tensor, "P D"]:
        if isinstance(phrases, str):
            raise TypeError("encode_text takes a list of phrases, got a single string")
        if not phrases:
            raise ValueError("encode_text needs at least one phrase")
        new = list(dict.fromkeys(p for p in phrases if p not in self._store))
        if new:
            encoded = self._encode(new)
            self.misses += len(new)
            for phrase, row in zip(new, encoded):
                self._store[phrase] = row.detach().clone()
        rows = []
        for phrase in phrases:
            self._store.move_to_end(phrase)
            rows.append(self._store[phrase])
        # Evict only after reading, so a batch larger than the cache still returns every row.
        while len(self._store) > self._maxsize:
            self._store.popitem(last=False)
        return torch.stack(rows)  # (P, D): a new tensor, so callers cannot corrupt the cache
