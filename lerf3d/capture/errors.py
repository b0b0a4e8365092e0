"""The one exception type of the capture readers and their validation."""

from __future__ import annotations


class CaptureError(ValueError):
    """A capture on disk is missing, malformed or physically implausible.

    The message always names the offending file (or folder) and the problem, so a user can fix the
    capture without reading lerf3d's source.
    """
