"""Defaults of the query commands that their Python functions (:mod:`~lerf3d.query.commands`) and
their command-line options (:mod:`~lerf3d.query.cli`) share. Nothing heavy is imported here: the
``lerf3d`` parser reads it."""

DEFAULT_VIDEO_FRAMES = 48
"""Frames of an orbit video (2 s at 24 fps)."""
DEFAULT_VIDEO_SIZE = (256, 192)
"""Width, height of orbit frames: 4:3 like the captures, small enough for a CPU."""
RENDER_PATHS = ("orbit", "frames")
"""Camera paths ``lerf3d render --path`` draws: ``orbit`` circles the room looking across it;
``frames`` follows the capture's training cameras in capture order (it needs the capture)."""
