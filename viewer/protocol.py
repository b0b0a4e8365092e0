"""Checking the page's JSON requests: every field known, typed and within limits, or a
:class:`RequestError` whose message the page shows (the server answers it and stays up).

Cameras come from the page's three.js camera (OpenGL convention, as nerfstudio's viewer sends
them) or by name (a capture frame, which keeps its measured depth as the sampling guide).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lerf3d.capture.io import resize_depth_nearest
from lerf3d.geometry import opengl_to_opencv
from lerf3d.query.camera import QueryCamera
from lerf3d.query.phrases import Phrases, check_phrases
from lerf3d.query.relevancy import NEUTRAL_RELEVANCY
from lerf3d.types import Intrinsics
from viewer.config import ViewerConfig

CAMERA_FIELDS = frozenset({"name", "camera_to_world", "fov_y", "width", "height", "convention"})
"""Keys a camera object may have."""
CONVENTIONS = ("opengl", "opencv")
"""Pose conventions: three.js/nerfstudio (y up, z back) or lerf3d's own (y down, z forward)."""
FOV_RANGE_DEG = (1.0, 170.0)
"""Vertical fields of view accepted (degrees)."""
RIGID_TOLERANCE = 1e-3
"""How far R^T R may be from the identity: a browser's float32 matrices are ~1e-7 off."""
MIN_PREVIEW_SIDE = 8
"""A preview is never smaller than this per side."""
DEFAULT_THRESHOLD = NEUTRAL_RELEVANCY
"""The page's threshold slider starts where LERF's "not this" ends (sec. 3.4)."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of a request body: the deepest real request (a camera's 4x4 pose) is 4 levels;
Python's parser recurses per level and would fail near 1,000 with a RecursionError."""
MAX_TRANSLATION = 1e6
"""Largest camera position coordinate (scene units): the field renders in float32, whose 7 digits
leave no precision for a scene of a few units seen from further away, and 1e39 is infinity."""
SHOWN_CHARS = 60
"""How much of a refused value an error message repeats (a body may be 64 KiB of one value)."""
QUERY_MODES = ("pixels", "objects")
"""How a phrase is answered: per pixel and per point (LERF), or by whole objects (lerf3d.objects)."""
MAX_TOP_LABELS = 10
"""Most best labels listed per object."""


class RequestError(Exception):
    """A request the server refuses, with the HTTP status and a message for the page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, eq=False)
class RenderRequest:
    """``POST /api/render``: a frame of the field for a camera."""

    camera: QueryCamera
    """The still camera (full resolution)."""
    preview: bool
    """True: colour only at 1/preview_divisor per side (the camera is moving)."""


@dataclass(frozen=True, eq=False)
class QueryRequest:
    """``POST /api/query``: phrases on a view and on the points."""

    camera: QueryCamera | None
    """The view to answer on; None: points only."""
    phrases: Phrases
    """Checked, stripped phrases."""
    mode: str = "pixels"
    """One of QUERY_MODES: "objects" selects whole objects (the scene's objects must be loaded)."""


@dataclass(frozen=True, eq=False)
class ChatRequest:
    """``POST /api/chat``: a question to the scene LLM."""

    question: str
    """The question, stripped."""
    camera: QueryCamera | None = None
    """Ask from this view (egocentric tokens of what it sees: "is the lamp left of the bed?" means
    left in this picture); None: about the whole scene."""


@dataclass(frozen=True)
class ObjectsRequest:
    """``POST /api/objects``: the scene's objects with their best labels against a vocabulary."""

    labels: Phrases | None
    """Phrases to score every object against; None: the phrases queried so far."""
    top: int
    """Best labels listed per object."""


@dataclass(frozen=True)
class ExportRequest:
    """``POST /api/export``: the per-point relevancy of one phrase as a PLY."""

    phrases: Phrases
    """The phrase exported, checked (one)."""

    @property
    def phrase(self) -> str:
        return self.phrases[0]


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object in a request body, nested at most MAX_JSON_DEPTH levels."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(f"bad JSON in the request body: {err}") from None
    except RecursionError:
        raise RequestError(f"bad JSON in the request body: nested over {MAX_JSON_DEPTH} levels deep") from None
    if not isinstance(payload, dict):
        raise RequestError(f"the request body must be a JSON object, got {type(payload).__name__}")
    if json_depth(payload) > MAX_JSON_DEPTH:
        raise RequestError(f"bad JSON in the request body: nested over {MAX_JSON_DEPTH} levels deep")
    return payload


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def shown(value: Any) -> str:
    """``repr(value)``, cut to SHOWN_CHARS for an error message."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def check_keys(payload: Mapping[str, Any], allowed: frozenset[str] | set[str], what: str) -> None:
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise RequestError(f"unknown {what} field(s) {shown(unknown)}; expected some of {sorted(allowed)}")


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{name} must be an integer, got {shown(value)}")
    if not low <= value <= high:
        raise RequestError(f"{name} must be in {low}..{high}, got {shown(value)}")
    return value


def _number(value: Any, name: str) -> float:
    """A finite float; JSON integers may be too large for one (10**400 is valid JSON)."""
    if not isinstance(value, bool) and isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    raise RequestError(f"{name} must be a finite number, got {shown(value)}")


def _matrix(value: Any, name: str) -> np.ndarray:
    """A 4x4 array of finite numbers, given as a list of four rows."""
    if not isinstance(value, list) or len(value) != 4 or any(
            not isinstance(row, list) or len(row) != 4 for row in value):
        raise RequestError(f"{name} must be a 4x4 array of numbers (four rows of four), got {shown(value)}")
    return np.array([[_number(x, f"{name}[{r}][{c}]") for c, x in enumerate(row)] for r, row in enumerate(value)])


def check_resolution(width: int, height: int, config: ViewerConfig) -> None:
    _int(width, "camera width", 1, config.max_side)
    _int(height, "camera height", 1, config.max_side)
    if width * height > config.max_pixels:
        side = int(math.sqrt(config.max_pixels))
        raise RequestError(f"camera width x height {width}x{height} is over the viewer's cap of "
                           f"{config.max_pixels} pixels (e.g. {side}x{side})")


def still_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """``width`` x ``height`` shrunk (never grown) so the long side is at most ``long_side``."""
    factor = min(1.0, long_side / max(width, height))
    return max(1, round(width * factor)), max(1, round(height * factor))


def resize_camera(camera: QueryCamera, width: int, height: int) -> QueryCamera:
    """The camera at another resolution, its depth guide resampled (nearest) rather than dropped."""
    if (width, height) == (camera.intrinsics.width, camera.intrinsics.height):
        return camera
    depth = None if camera.depth is None else resize_depth_nearest(camera.depth, width, height)
    return QueryCamera(camera.intrinsics.scaled(width, height), camera.camera_to_world, depth, camera.name)


def parse_camera(value: Any, cameras: Mapping[str, QueryCamera], config: ViewerConfig) -> QueryCamera:
    """A camera object: ``{"name": FRAME[, "width", "height"]}`` or ``{"camera_to_world": 4x4,
    "fov_y": degrees, "width": W, "height": H[, "convention": "opengl"]}``."""
    if not isinstance(value, dict):
        raise RequestError(f"camera must be a JSON object, got {type(value).__name__}")
    check_keys(value, CAMERA_FIELDS, "camera")
    if ("name" in value) == ("camera_to_world" in value):
        raise RequestError('camera needs exactly one of "name" (a capture frame) and "camera_to_world"')
    if "name" in value:
        return _named_camera(value, cameras, config)
    missing = sorted({"fov_y", "width", "height"} - set(value))
    if missing:
        raise RequestError(f"camera is missing {missing}")
    width, height = value["width"], value["height"]
    check_resolution(width, height, config)
    convention = value.get("convention", "opengl")
    if convention not in CONVENTIONS:
        raise RequestError(f"camera convention must be one of {list(CONVENTIONS)}, got {shown(convention)}")
    pose = _matrix(value["camera_to_world"], "camera_to_world")
    rotation = pose[:3, :3]
    # bounded entries first: the product of a huge matrix with itself overflows
    orthonormal = np.abs(rotation).max() <= 1 + RIGID_TOLERANCE and np.allclose(
        rotation.T @ rotation, np.eye(3), atol=RIGID_TOLERANCE)
    if not orthonormal or not np.allclose(pose[3], [0, 0, 0, 1]):
        raise RequestError("camera_to_world must be rigid (orthonormal rotation, last row 0 0 0 1)")
    if np.abs(pose[:3, 3]).max() > MAX_TRANSLATION:
        raise RequestError(f"camera_to_world translation must be within +-{MAX_TRANSLATION:g} scene units, "
                           f"got {pose[:3, 3].tolist()}")
    fov = _number(value["fov_y"], "fov_y")
    if not FOV_RANGE_DEG[0] <= fov <= FOV_RANGE_DEG[1]:
        raise RequestError(f"fov_y must be in {FOV_RANGE_DEG[0]}..{FOV_RANGE_DEG[1]} degrees, got {fov}")
    if convention == "opengl":
        pose = opengl_to_opencv(pose)
    focal = height / 2 / math.tan(math.radians(fov) / 2)
    return QueryCamera(Intrinsics(focal, focal, width / 2, height / 2, width, height), pose, None, "view")


def _named_camera(
    value: dict[str, Any], cameras: Mapping[str, QueryCamera], config: ViewerConfig
) -> QueryCamera:
    name = value["name"]
    if not isinstance(name, str) or name not in cameras:
        known = list(cameras)
        listed = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
        raise RequestError(f"unknown camera {shown(name)}; this scene has {len(known)} named cameras"
                           + (f" ({listed})" if known else ""), status=404)
    camera = cameras[name]
    if ("width" in value) != ("height" in value):
        raise RequestError("give both width and height, or neither")
    if "width" in value:
        width, height = value["width"], value["height"]
    else:
        k = camera.intrinsics
        width, height = still_size(k.width, k.height, config.full_long_side)
    check_resolution(width, height, config)
    return resize_camera(camera, width, height)


def preview_camera(camera: QueryCamera, divisor: int) -> QueryCamera:
    """The camera at 1/``divisor`` of its size per side (at least MIN_PREVIEW_SIDE)."""
    k = camera.intrinsics
    width = max(MIN_PREVIEW_SIDE, k.width // divisor)
    height = max(MIN_PREVIEW_SIDE, round(width * k.height / k.width))
    return resize_camera(camera, min(width, k.width), min(height, k.height))


def parse_phrases(value: Any, config: ViewerConfig, limit: int | None = None) -> Phrases:
    """``"cup, chair"`` or ``["cup", "chair"]`` -> checked phrases (an empty one is an error), at
    most ``limit`` of them (default ``config.max_phrases``). Where a viewer request's phrases enter:
    the session and scorers take the returned :class:`Phrases` without checking them again."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise RequestError(f"phrases must be a string (comma separated) or a list of strings, got "
                           f"{type(value).__name__}")
    try:
        phrases = check_phrases(value)
    except (TypeError, ValueError) as err:
        raise RequestError(str(err)) from None
    limit = config.max_phrases if limit is None else limit
    if len(phrases) > limit:
        raise RequestError(f"{len(phrases)} phrases: at most {limit} at once")
    long = [p for p in phrases if len(p) > config.max_phrase_chars]
    if long:
        raise RequestError(f"phrase {long[0][:40]!r}... is over {config.max_phrase_chars} characters")
    return phrases


def parse_render(
    payload: dict[str, Any], cameras: Mapping[str, QueryCamera], config: ViewerConfig
) -> RenderRequest:
    check_keys(payload, {"camera", "preview"}, "render")
    if "camera" not in payload:
        raise RequestError("render needs a camera")
    preview = payload.get("preview", False)
    if not isinstance(preview, bool):
        raise RequestError(f"preview must be true or false, got {shown(preview)}")
    return RenderRequest(parse_camera(payload["camera"], cameras, config), preview)


def parse_query(
    payload: dict[str, Any], cameras: Mapping[str, QueryCamera], config: ViewerConfig
) -> QueryRequest:
    check_keys(payload, {"camera", "phrases", "mode"}, "query")
    if "phrases" not in payload:
        raise RequestError("query needs phrases")
    phrases = parse_phrases(payload["phrases"], config)
    mode = payload.get("mode", "pixels")
    if mode not in QUERY_MODES:
        raise RequestError(f"mode must be one of {list(QUERY_MODES)}, got {shown(mode)}")
    camera = payload.get("camera")
    return QueryRequest(None if camera is None else parse_camera(camera, cameras, config), phrases, mode)


def parse_objects(payload: dict[str, Any], config: ViewerConfig) -> ObjectsRequest:
    """``{"labels": "chair, table" | [...] (optional), "top": N (optional, default 3)}``."""
    check_keys(payload, {"labels", "top"}, "objects")
    top = _int(payload.get("top", 3), "top", 1, MAX_TOP_LABELS)
    labels = payload.get("labels")
    if labels is None or (isinstance(labels, str) and not labels.strip()) or labels == []:
        return ObjectsRequest(None, top)
    return ObjectsRequest(parse_phrases(labels, config, config.max_labels), top)


def parse_export(payload: dict[str, Any], config: ViewerConfig) -> ExportRequest:
    check_keys(payload, {"phrase"}, "export")
    if "phrase" not in payload:
        raise RequestError("export needs a phrase")
    phrase = payload["phrase"]
    if not isinstance(phrase, str):
        raise RequestError(f"phrase must be a string, got {type(phrase).__name__}")
    return ExportRequest(parse_phrases([phrase], config))


def parse_chat(payload: dict[str, Any], cameras: Mapping[str, QueryCamera], config: ViewerConfig) -> ChatRequest:
    check_keys(payload, {"question", "camera"}, "chat")
    question = payload.get("question")
    if not isinstance(question, str) or not question.strip():
        raise RequestError("type a question, e.g. 'how many chairs are there?'")
    if len(question) > config.max_question_chars:
        raise RequestError(f"the question is over {config.max_question_chars} characters")
    camera = payload.get("camera")
    return ChatRequest(question.strip(), None if camera is None else parse_camera(camera, cameras, config))
