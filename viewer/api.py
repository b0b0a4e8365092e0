"""The viewer's operations on its one scene, as functions of checked requests returning JSON-ready
dicts (the HTTP layer in server.py only routes and encodes).

Thread safety: every use of the :class:`QuerySession` (its embedding cache and per-view searchers
are plain Python state) happens under one lock, so concurrent clients queue instead of corrupting
it. Previews render the field's colour without the cache and skip the lock, so a moving camera is
not stuck behind another client's full render. Requests carry their own camera and phrases: the
only state shared between clients is the "recent queries" list, by design.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lerf3d.field.model import render_in_chunks
from lerf3d.geometry import opencv_to_opengl
from lerf3d.query.camera import QueryCamera, camera_rays_for
from lerf3d.query.export import top_region, write_region_json, write_relevancy_ply
from lerf3d.query.media import slug
from lerf3d.query.overlay import OVERLAY_ALPHA, TURBO_ANCHORS
from viewer.chat import reply_json
from viewer.config import ViewerConfig
from viewer.images import float32_b64, image_data_url, to_uint8, uint8_b64
from viewer.objects_api import ViewerObjects
from viewer.protocol import (
    DEFAULT_THRESHOLD,
    ChatRequest,
    ExportRequest,
    ObjectsRequest,
    QueryRequest,
    RenderRequest,
    RequestError,
    preview_camera,
)
from viewer.scene import ViewerScene

EXPORTS_FOLDER = "exports"
"""Exports go to ``outputs_dir/exports``; that folder is all the server will ever hand out."""


@dataclass(frozen=True)
class ExportedFile:
    """A file the export wrote (what ``GET /exports/NAME`` serves)."""

    path: Path
    """Where it is."""
    name: str
    """Its name in the exports folder."""


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def camera_json(name: str, camera: QueryCamera) -> dict[str, Any]:
    """A named camera as the page uses it: OpenGL camera-to-world, vertical fov, size."""
    k = camera.intrinsics
    pose = opencv_to_opengl(camera.camera_to_world)
    fov_y = float(np.degrees(2 * np.arctan(k.height / (2 * k.fy))))
    return {"name": name, "camera_to_world": pose.tolist(), "fov_y": fov_y, "width": k.width,
            "height": k.height}


class ViewerAPI:
    """One scene served to any number of pages."""

    def __init__(self, scene: ViewerScene, config: ViewerConfig = ViewerConfig()) -> None:
        self.scene = scene
        self.config = config
        self.session_lock = threading.Lock()
        self._recent: deque[dict[str, Any]] = deque(maxlen=config.recent_queries)
        self._recent_lock = threading.Lock()
        self._export_count = 0
        self._xyz = torch.as_tensor(np.asarray(scene.points.xyz), dtype=torch.float32)
        self.exports_dir = (Path(config.outputs_dir) / EXPORTS_FOLDER).resolve()
        self._points_payload: dict[str, Any] | None = None
        self.objects = None if scene.objects is None else ViewerObjects(
            scene.objects, scene.session.encoder, np.asarray(scene.points.xyz), self.session_lock)

    # -- read-only ------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """``GET /api/scene``: what the page needs to set itself up."""
        bounds = self.scene.scene_bounds
        session = self.scene.session
        return {
            "title": self.scene.title,
            "num_points": len(self.scene.points.xyz),
            "bounds": {"lower": np.asarray(bounds.lower).tolist(),
                       "upper": np.asarray(bounds.upper).tolist()},
            "cameras": [camera_json(name, camera) for name, camera in self.scene.cameras.items()],
            "encoder": session.encoder.name,
            "scales": list(session.scales),
            "point_scales": list(session.config.point_scales),
            "threshold": DEFAULT_THRESHOLD,
            "overlay": {"alpha": OVERLAY_ALPHA, "turbo": TURBO_ANCHORS.tolist()},
            "limits": {"full_long_side": self.config.full_long_side,
                       "preview_divisor": self.config.preview_divisor, "max_side": self.config.max_side,
                       "max_pixels": self.config.max_pixels, "max_phrases": self.config.max_phrases},
            "chat": self.scene.chat is not None,
            "objects": None if self.objects is None else len(self.objects),
            "recent": self.recent(),
        }

    def points(self) -> dict[str, Any]:
        """``GET /api/points``: positions (float32) and colours (uint8) of the shown points."""
        if self._points_payload is None:
            points = self.scene.points
            self._points_payload = {"count": len(points.xyz), "positions": float32_b64(points.xyz),
                                    "colors": uint8_b64(to_uint8(points.rgb))}
        return self._points_payload

    def recent(self) -> list[dict[str, Any]]:
        with self._recent_lock:
            return list(self._recent)

    # -- rendering ------------------------------------------------------------------------------

    def render(self, request: RenderRequest) -> dict[str, Any]:
        """``POST /api/render``: a preview (colour only, small, JPEG) or a still (PNG; its embeddings
        are rendered and cached at the same time, so the next phrase on it is a matrix product)."""
        start = time.perf_counter()
        if request.preview:
            camera = preview_camera(request.camera, self.config.preview_divisor)
            rgb = self._colour_only(camera)
            return {"image": image_data_url(to_uint8(rgb), "jpeg"), "width": camera.intrinsics.width,
                    "height": camera.intrinsics.height, "preview": True, "ms": _ms(start)}
        camera = request.camera
        with self.session_lock:
            hits = self.scene.session.cache_stats().hits
            view = self.scene.session.view_embeddings(camera)
            cached = self.scene.session.cache_stats().hits > hits
        return {"image": image_data_url(to_uint8(view.rgb.cpu().numpy())), "width": camera.intrinsics.width,
                "height": camera.intrinsics.height, "preview": False, "cached": cached, "ms": _ms(start)}

    @torch.no_grad()
    def _colour_only(self, camera: QueryCamera) -> np.ndarray:
        session = self.scene.session
        field = session.field
        rays = camera_rays_for(camera, field.lower, field.upper, session.config.min_near)
        out = render_in_chunks(field, rays, session.config.chunk_size, with_language=False, jitter=False)
        k = camera.intrinsics
        return out.rgb.clamp(0, 1).reshape(k.height, k.width, 3).cpu().numpy()  # (H*W, 3) -> (H, W, 3)

    # -- queries --------------------------------------------------------------------------------

    def query(self, request: QueryRequest) -> dict[str, Any]:
        """``POST /api/query``: per phrase, the view's relevancy (float32, row-major) and scale, and
        each point's relevancy and scale; the page colours both with the threshold it has. In
        object mode the values are those of whole objects (see viewer.objects_api)."""
        if request.mode == "objects":
            return self._object_query(request)
        start = time.perf_counter()
        phrases = list(request.phrases)
        response: dict[str, Any] = {"phrases": phrases, "mode": request.mode}
        try:
            with self.session_lock:
                session = self.scene.session
                if request.camera is not None:
                    hits = session.cache_stats().hits
                    answer = session.answer(request.camera, request.phrases)
                    response["view_cached"] = session.cache_stats().hits > hits
                    view_ms = _ms(start)
                point_maps = session.point_query(self._xyz).query(request.phrases)
        except ValueError as err:  # a phrase the text tower cannot take, etc.
            raise RequestError(str(err)) from None
        results = []
        for p, phrase in enumerate(phrases):
            points = point_maps[p].values.float().cpu().numpy()
            entry: dict[str, Any] = {
                "phrase": phrase,
                "points": {"scale": point_maps[p].scale, "max": float(points.max()),
                           "min": float(points.min()), "values": float32_b64(points)},
            }
            if request.camera is not None:
                values = answer.maps[p].values.float().cpu().numpy()
                entry["view"] = {"scale": answer.maps[p].scale, "max": float(values.max()),
                                 "min": float(values.min()), "values": float32_b64(values)}
            results.append(entry)
        response["results"] = results
        if request.camera is not None:
            k = request.camera.intrinsics
            response.update(image=image_data_url(to_uint8(answer.view.rgb.cpu().numpy())), width=k.width,
                            height=k.height, view_ms=view_ms)
        response["ms"] = _ms(start)
        response["recent"] = self._remember(phrases)
        return response

    def _object_query(self, request: QueryRequest) -> dict[str, Any]:
        start = time.perf_counter()
        objects = self._objects()
        phrases = list(request.phrases)
        response: dict[str, Any] = {"phrases": phrases, "mode": request.mode}
        if request.camera is not None:
            with self.session_lock:  # the view's colour (cached when the page showed the view)
                hits = self.scene.session.cache_stats().hits
                view = self.scene.session.view_embeddings(request.camera)
                response["view_cached"] = self.scene.session.cache_stats().hits > hits
            k = request.camera.intrinsics
            response.update(image=image_data_url(to_uint8(view.rgb.cpu().numpy())), width=k.width,
                            height=k.height, view_ms=_ms(start))
        response["results"] = objects.answer(request.camera, request.phrases)
        response["ms"] = _ms(start)
        response["recent"] = self._remember(phrases)
        return response

    def _objects(self) -> ViewerObjects:
        if self.objects is None:
            raise RequestError("this viewer has no objects: start it without --no-objects", status=404)
        return self.objects

    def object_list(self, request: ObjectsRequest) -> dict[str, Any]:
        """``POST /api/objects``: the objects with their best labels against ``request.labels``, or
        against every phrase queried so far when none are given."""
        start = time.perf_counter()
        objects = self._objects()
        labels = request.labels if request.labels is not None else self.queried_phrases()
        response = objects.listing(labels, request.top)
        response["ms"] = _ms(start)
        return response

    def queried_phrases(self) -> tuple[str, ...]:
        """The distinct phrases of the recent queries, oldest first."""
        seen: dict[str, None] = {}
        for entry in reversed(self.recent()):
            for phrase in entry["phrases"]:
                seen.setdefault(phrase, None)
        return tuple(seen)[: self.config.max_labels]

    def _remember(self, phrases: list[str]) -> list[dict[str, Any]]:
        text = ", ".join(phrases)
        with self._recent_lock:
            for entry in list(self._recent):
                if entry["text"] == text:
                    self._recent.remove(entry)
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self._recent.appendleft({"text": text, "phrases": phrases, "at": stamp})
            return list(self._recent)

    # -- exports --------------------------------------------------------------------------------

    def export(self, request: ExportRequest) -> dict[str, Any]:
        """``POST /api/export``: the points with their relevancy for the phrase as a binary PLY (and
        the top region's box as JSON), written atomically into the exports folder."""
        start = time.perf_counter()
        try:
            with self.session_lock:
                (relevancy,) = self.scene.session.point_query(self._xyz).query(request.phrases)
        except ValueError as err:
            raise RequestError(str(err)) from None
        values = relevancy.values.float().cpu().numpy()
        with self._recent_lock:
            self._export_count += 1
            count = self._export_count
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        name = f"{slug(request.phrase)}-{stamp}-{count:03d}.ply"
        points = self.scene.points
        ply = write_relevancy_ply(self.exports_dir / name, points.xyz, points.rgb, values)
        region = top_region(points.xyz, values, request.phrase, relevancy.scale)
        box = write_region_json(ply.with_suffix(".json"), region)
        return {"name": name, "url": f"/exports/{name}", "box_url": f"/exports/{box.name}",
                "bytes": ply.stat().st_size, "region": asdict(region), "ms": _ms(start)}

    def exported_file(self, name: str) -> ExportedFile:
        """The export called ``name``, only if it is a file directly inside the exports folder."""
        if not name or any(c in name for c in "/\\\x00") or name.startswith("."):
            raise RequestError(f"no export called {name!r}", status=404)
        path = (self.exports_dir / name).resolve()
        if path.parent != self.exports_dir:
            raise RequestError(f"no export called {name!r}", status=404)
        if path.suffix not in (".ply", ".json") or not path.is_file():
            raise RequestError(f"no export called {name!r}", status=404)
        return ExportedFile(path, path.name)

    # -- chat -----------------------------------------------------------------------------------

    def chat(self, request: ChatRequest) -> dict[str, Any]:
        """``POST /api/chat``: the scene LLM's answer, about the whole scene or from the request's
        camera, and the objects it rests on, boxes in world coordinates (404 when no scene LLM is
        loaded)."""
        if self.scene.chat is None:
            raise RequestError("no scene LLM is loaded: start the viewer with --llm RUN", status=404)
        start = time.perf_counter()
        question = request.question
        try:
            reply = (self.scene.chat(question) if request.camera is None
                     else self.scene.chat(question, request.camera))
        except ValueError as err:
            raise RequestError(str(err)) from None
        return {"question": question, **reply_json(reply), "asked_from": "scene" if request.camera is None else "view",
                "ms": _ms(start)}
