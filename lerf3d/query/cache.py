"""A least-recently-used cache bounded by the bytes its values hold (view embeddings are large:
a 256x256 view at 30 scales is ~1.5 GiB in float16 at D = 384, so a count limit would not do)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`ByteLRU` (for tests and the viewer's status line)."""

    hits: int
    """Lookups served from the cache."""
    misses: int
    """Lookups that had to compute."""
    entries: int
    """Values held now."""
    nbytes: int
    """Bytes held now."""
    capacity: int
    """Byte cap."""


class ByteLRU(Generic[V]):
    """key -> value, evicting the least recently used values once their bytes exceed ``capacity``.

    A value larger than the whole capacity is returned but not kept (caching it would evict
    everything and still break the cap); capacity 0 disables caching.
    """

    def __init__(self, capacity: int, size_of: Callable[[V], int]) -> None:
        if capacity < 0:
            raise ValueError(f"cache capacity must be >= 0 bytes, got {capacity}")
        self.capacity = capacity
        self._size_of = size_of
        self._store: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._nbytes = 0
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._store

    def __len__(self) -> int:
        return len(self._store)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value of ``key`` (now most recently used), else ``compute()``, stored if it fits."""
        if key in self._store:
            self.hits += 1
            self._store.move_to_end(key)
            return self._store[key][0]
        self.misses += 1
        value = compute()
        self.put(key, value)
        return value

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value`` (replacing ``key``'s), then evict old entries down to the cap."""
        self.discard(key)
        size = self._size_of(value)
        if size > self.capacity:
            return
        self._store[key] = (value, size)
        self._nbytes += size
        while self._nbytes > self.capacity:
            _, (_, old_size) = self._store.popitem(last=False)
            self._nbytes -= old_size

    def resize(self, key: Hashable) -> None:
        """Re-measure ``key``'s value after it grew (e.g. a per-view negative term was added)."""
        if key in self._store:
            value, _ = self._store[key]
            self.put(key, value)

    def discard(self, key: Hashable) -> None:
        if key in self._store:
            _, size = self._store.pop(key)
            self._nbytes -= size

    def clear(self) -> None:
        self._store.clear()
        self._nbytes = 0

    def stats(self) -> CacheStats:
        return CacheStats(self.hits, self.misses, len(self._store), self._nbytes, self.capacity)
