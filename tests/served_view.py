"""One text query through the browser viewer's HTTP API on a trained run: the run loaded as
``lerf3d view`` loads it, served on a free local port, ``POST /api/query`` on its first camera.
Shared by the real-encoder end-to-end test and bench/real_encoders.py."""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path

import numpy as np


def query_served_view(run: Path, phrases: list[str], outputs: Path, device: str = "cpu",
                      full_long_side: int | None = None) -> tuple[str, dict[str, np.ndarray]]:
    """(camera name, phrase -> the view's relevancy map (H, W)) answered by a served viewer."""
    from dataclasses import replace

    from viewer.config import ViewerConfig
    from viewer.scene import load_viewer_scene
    from viewer.server import make_server, serve_in_thread

    scene = load_viewer_scene(run, device=device)
    config = ViewerConfig(port=0, outputs_dir=outputs)
    if full_long_side is not None:
        config = replace(config, full_long_side=full_long_side)
    server = make_server(scene, config)
    serve_in_thread(server)
    try:
        camera = next(iter(scene.cameras))
        body = json.dumps({"camera": {"name": camera}, "phrases": ", ".join(phrases)}).encode()
        request = urllib.request.Request(server.url.rstrip("/") + "/api/query", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as response:
            data = json.loads(response.read())
    finally:
        server.shutdown()
        server.server_close()
    maps = {r["phrase"]: np.frombuffer(base64.b64decode(r["view"]["values"]), "<f4").reshape(data["height"],
                                                                                              data["width"])
            for r in data["results"]}
    return camera, maps
