"""Settings of the viewer server: where it listens, how large a view may be, what it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 7007
"""nerfstudio's viewer port: users of both find it where they expect it."""
LOCALHOST = "127.0.0.1"
"""Default bind address: the viewer executes queries for whoever reaches it, so it stays local."""
FULL_LONG_SIDE = 160
"""Long side (px) of a still view. A view's embeddings are kept at 30 scales (LERF's search):
160x120 x 30 rows in float16 is ~0.6 GB at 512-d (a tenth of it when the stack holds coordinates in
the CLIP head's span, lerf3d.query.render.clip_head_span), renders in about a second on two CPU
cores, and a new phrase on it is one matrix product (docs/architecture.md, "Language field")."""
PREVIEW_DIVISOR = 4
"""A moving camera gets a colour-only frame this many times smaller per side (1/16 of the rays)."""


@dataclass(frozen=True)
class ViewerConfig:
    """How the viewer serves one scene."""

    host: str = LOCALHOST
    """Address to bind; anything but localhost exposes the scene (and its CPU) to the network."""
    port: int = DEFAULT_PORT
    """TCP port (0 picks a free one: tests)."""
    outputs_dir: Path = Path("outputs/viewer")
    """Exports (PLY + region JSON) are written here and only files from here are downloadable."""
    full_long_side: int = FULL_LONG_SIDE
    """Long side (px) of the still view the page asks for."""
    preview_divisor: int = PREVIEW_DIVISOR
    """A preview (moving camera) is rendered this many times smaller per side, colour only."""
    max_side: int = 512
    """Largest width or height a request may ask for."""
    max_pixels: int = 256 * 256
    """Largest width x height a request may ask for (a view's embeddings are ~S x W x H x D)."""
    max_points: int = 40_000
    """Fused points sent to the page and queried in 3D (a random subset beyond this)."""
    max_phrases: int = 8
    """Phrases per query."""
    max_labels: int = 64
    """Phrases of a vocabulary the objects are labelled against (one text-tower pass each)."""
    max_phrase_chars: int = 200
    """Characters per phrase."""
    max_body_bytes: int = 64 * 1024
    """Largest request body; larger ones are refused unread."""
    recent_queries: int = 12
    """Queries remembered for the page's "recent" list (shared by every client)."""
    max_question_chars: int = 500
    """Characters of a chat question."""
    seed: int = 0
    """Seed of the point subsampling (the same scene always shows the same points)."""
    listen_backlog: int = 1024
    """Connections the kernel queues before the server accepts them (the standard library's 5 made
    a burst of 50 clients see resets); the kernel caps it at net.core.somaxconn."""
    socket_timeout_s: float = 30.0
    """Seconds a connection may sit idle mid-request or between keep-alive requests before it is
    closed (without it a stalled client holds its thread forever). Not a limit on render time."""
    max_connections: int = 512
    """Connections served at once; one more gets an immediate JSON 503 instead of another thread."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.full_long_side < 8 or self.full_long_side > self.max_side:
            raise ValueError(f"full_long_side must be in 8..max_side ({self.max_side}), "
                             f"got {self.full_long_side}")
        if self.preview_divisor < 1:
            raise ValueError(f"preview_divisor must be >= 1, got {self.preview_divisor}")
        if self.max_pixels < 64 or self.max_points < 1 or self.max_phrases < 1 or self.recent_queries < 1 \
                or self.max_labels < 1:
            raise ValueError("max_pixels >= 64, max_points, max_phrases, recent_queries and max_labels >= 1 "
                             "are needed")
        if self.listen_backlog < 1 or self.max_connections < 1 or not self.socket_timeout_s > 0:
            raise ValueError("listen_backlog, max_connections and socket_timeout_s must be positive")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")

    @property
    def is_local(self) -> bool:
        """True when only this machine can connect."""
        return self.host in (LOCALHOST, "localhost", "::1")
