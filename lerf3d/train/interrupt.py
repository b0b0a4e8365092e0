"""Ctrl-C during training: finish the current step, save, then stop (a second Ctrl-C stops at once).

An interrupt landing between the radiance and the language optimiser steps would leave a model
that matches no step count; deferring it to the step boundary keeps every saved state exact.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class DeferredInterrupt:
    """Context manager: SIGINT sets :attr:`requested` instead of raising (main thread only)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
