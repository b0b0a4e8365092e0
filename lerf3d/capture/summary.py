"""What a reader left out, in words: colour frames dropped for want of a pose or depth.

Readers store two ``Capture.metadata`` entries: the number of colour images they found and, per
reason, the names of those they dropped; :func:`frames_summary` turns them into the line a command
prints ("fused 10 of 12 frames; 2 without a pose: ...").
"""

from __future__ import annotations

from lerf3d.types import Capture

COLOUR_FRAMES_KEY = "colour_frames"
"""``Capture.metadata`` key: how many colour images the capture lists."""
DROPPED_KEY = "dropped_frames"
"""``Capture.metadata`` key: dropped frames by reason, e.g. "2 without a pose: a, b"."""
NAMES_SHOWN = 5
"""Frame names listed per reason before "...", so a long sequence keeps the line readable."""


def dropped_note(reasons: dict[str, list[str]]) -> str:
    """``{"without a pose": [names]}`` -> "2 without a pose: a, b" (reasons with names only)."""
    parts = []
    for reason, names in reasons.items():
        if names:
            shown = ", ".join(names[:NAMES_SHOWN]) + (", ..." if len(names) > NAMES_SHOWN else "")
            parts.append(f"{len(names)} {reason}: {shown}")
    return "; ".join(parts)


def frames_summary(capture: Capture, used: int | None = None) -> str:
    """"10 of 12 frames; 2 without a pose: a, b" (``used`` defaults to the capture's frame count)."""
    used = len(capture.frames) if used is None else used
    total = int(capture.metadata.get(COLOUR_FRAMES_KEY, len(capture.frames)))
    text = f"{used} of {total} frames" if total != used else f"{used} frames"
    dropped = capture.metadata.get(DROPPED_KEY)
    return f"{text}; {dropped}" if dropped else text
