"""A small HTTP client for the viewer tests (stdlib only: what a test sends is exactly what goes out)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from lerf3d.ground_truth import GroundTruth


def request(base: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request on a fresh connection."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def get_json(base: str, path: str) -> tuple[int, Any]:
    status, _, body = request(base, "GET", path)
    return status, json.loads(body)


def post_json(base: str, path: str, payload: Any, raw: bytes | None = None,
              content_type: str = "application/json") -> tuple[int, Any]:
    body = raw if raw is not None else json.dumps(payload).encode()
    status, _, data = request(base, "POST", path, body, {"Content-Type": content_type})
    return status, json.loads(data)


def decode_f32(b64: str) -> np.ndarray:
    import base64

    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def best_view(ground_truth: GroundTruth, frames: list[str]) -> tuple[str, str, np.ndarray]:
    """(frame, label, mask of every instance with that label) where one furniture label covers the
    most pixels: the clearest known answer in the capture."""
    best: tuple[int, str, str, np.ndarray] | None = None
    for name in frames:
        ids = ground_truth.load_mask(name)
        for obj in ground_truth.furniture:
            mask = np.isin(ids, [o.instance_id for o in ground_truth.objects if o.label == obj.label])
            if best is None or mask.sum() > best[0]:
                best = (int(mask.sum()), name, obj.label, mask)
    assert best is not None, "the room has no furniture in view"
    return best[1], best[2], best[3]
