"""lerf3d's browser viewer: query a trained scene by text, see the relevancy on the rendered view
and on the fused points, export it as PLY, and ask the scene LLM (``lerf3d view CKPT``).

- :mod:`~viewer.config`: :class:`ViewerConfig` (address, size caps, outputs folder)
- :mod:`~viewer.scene`: :class:`ViewerScene` (a ready QuerySession + points + named cameras)
- :mod:`~viewer.protocol`: request checking; :mod:`~viewer.api`: the operations
- :mod:`~viewer.server`: the HTTP server and the static page; :mod:`~viewer.cli`: ``lerf3d view``
- :mod:`~viewer.chat`: the scene LLM behind the chat panel

The viewer imports lerf3d; lerf3d never imports the viewer (its command line finds it if installed).
This module stays light (no torch) so that ``lerf3d --help`` does not pay for the viewer.
"""

from viewer.config import ViewerConfig

__all__ = ["ViewerConfig"]
