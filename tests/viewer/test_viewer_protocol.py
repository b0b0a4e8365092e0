"""Request checking: every malformed camera, phrase or body becomes a RequestError with a message."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lerf3d.geometry import look_at
from lerf3d.query.camera import QueryCamera
from lerf3d.types import Intrinsics
from viewer.config import ViewerConfig
from viewer.protocol import (
    ObjectsRequest,
    RequestError,
    parse_body,
    parse_camera,
    parse_chat,
    parse_export,
    parse_objects,
    parse_phrases,
    parse_query,
    parse_render,
    preview_camera,
    still_size,
)
from viewer.server import host_warning

CONFIG = ViewerConfig(full_long_side=64, max_side=256, max_pixels=128 * 128)
FRAME = QueryCamera(Intrinsics(80.0, 80.0, 48.0, 36.0, 96, 72), np.eye(4), np.full((72, 96), 2.0, np.float32),
                    "f0")
CAMERAS = {"f0": FRAME}
GL_POSE = [[1, 0, 0, 0.5], [0, 1, 0, 0.2], [0, 0, 1, 2.0], [0, 0, 0, 1]]  # looks down world -z


def free(**changes):
    camera = {"camera_to_world": GL_POSE, "fov_y": 60, "width": 64, "height": 48}
    camera.update(changes)
    return camera


def test_free_camera_is_converted_from_opengl():
    camera = parse_camera(free(), CAMERAS, CONFIG)
    forward = camera.camera_to_world[:3, 2]  # OpenCV z: where the camera looks
    np.testing.assert_allclose(forward, [0, 0, -1])
    np.testing.assert_allclose(camera.camera_to_world[:3, 3], [0.5, 0.2, 2.0])
    k = camera.intrinsics
    assert (k.width, k.height, k.cx, k.cy) == (64, 48, 32, 24)
    assert k.fy == pytest.approx(24 / math.tan(math.radians(30)))
    opencv = look_at(np.array([0.5, 0.2, 2.0]), np.array([0.5, 0.2, 0.0]), np.array([0.0, 1.0, 0.0]))
    same = parse_camera(free(convention="opencv", camera_to_world=opencv.tolist()), CAMERAS, CONFIG)
    np.testing.assert_allclose(same.camera_to_world[:3, 2], forward, atol=1e-12)


def test_named_camera_keeps_its_depth_at_the_still_size():
    camera = parse_camera({"name": "f0"}, CAMERAS, CONFIG)
    assert (camera.intrinsics.width, camera.intrinsics.height) == (64, 48)  # long side capped at 64
    assert camera.depth is not None and camera.depth.shape == (48, 64)
    exact = parse_camera({"name": "f0", "width": 96, "height": 72}, CAMERAS, CONFIG)
    assert exact is FRAME
    preview = preview_camera(exact, 4)
    assert (preview.intrinsics.width, preview.intrinsics.height) == (24, 18)
    assert preview.depth is not None and preview.depth.shape == (18, 24)
    assert still_size(96, 72, 200) == (96, 72) and still_size(72, 96, 48) == (36, 48)


@pytest.mark.parametrize("camera, status, message", [
    ({"name": "nope"}, 404, "unknown camera 'nope'"),
    ({"name": "f0", "zoom": 2}, 400, "unknown camera field(s) ['zoom']"),
    ({"name": "f0", "camera_to_world": GL_POSE}, 400, "exactly one"),
    ({}, 400, "exactly one"),
    ({"name": "f0", "width": 10}, 400, "both width and height"),
    ("f0", 400, "must be a JSON object"),
    (free(width=4000), 400, "width must be in 1..256"),
    (free(width=256, height=256), 400, "over the viewer's cap"),
    (free(width=64.0), 400, "must be an integer"),
    (free(width=True), 400, "must be an integer"),
    (free(fov_y=0.1), 400, "fov_y must be in"),
    (free(fov_y="wide"), 400, "finite number"),
    (free(fov_y=float("nan")), 400, "finite number"),
    (free(camera_to_world=[[1, 0], [0, 1]]), 400, "4x4"),
    (free(camera_to_world=[["a"] * 4] * 4), 400, "camera_to_world[0][0] must be a finite number, got 'a'"),
    (free(camera_to_world=[[1, 0, 0, 0]] * 3 + [[0, 0, 0, "1"]]), 400, "camera_to_world[3][3] must be a finite"),
    (free(camera_to_world=[[1, 0, 0, 10**400], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), 400,
     "camera_to_world[0][3] must be a finite number"),
    (free(camera_to_world=[[1, 0, 0, 1e308], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), 400,
     "camera_to_world translation must be within"),
    (free(camera_to_world=[[1e300, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), 400, "rigid"),
    (free(fov_y=10**400), 400, "fov_y must be a finite number"),
    (free(width=[1] * 10**4), 400, "camera width must be an integer, got [1, 1,"),
    (free(camera_to_world=[[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), 400, "rigid"),
    (free(convention="directx"), 400, "convention"),
    ({k: v for k, v in free().items() if k != "fov_y"}, 400, "missing ['fov_y']"),
])
def test_bad_cameras(camera, status, message):
    with pytest.raises(RequestError) as err:
        parse_camera(camera, CAMERAS, CONFIG)
    assert err.value.status == status
    assert message in err.value.message


def test_phrases():
    assert parse_phrases("chair,  coffee mug ", CONFIG) == ("chair", "coffee mug")
    assert parse_phrases(["chair"], CONFIG) == ("chair",)
    assert parse_phrases("Stuhl, 椅子", CONFIG) == ("Stuhl", "椅子")
    for bad, message in [("", "empty"), ("chair, ,mug", "phrase 1 is empty"), ([], "at least one"),
                         ([3], "must be a string"), (7, "a string (comma separated) or a list"),
                         (",".join("abcdefghij"), "at most 8"), ("x" * 300, "over 200 characters")]:
        with pytest.raises(RequestError) as err:
            parse_phrases(bad, CONFIG)
        assert message in err.value.message, (bad, err.value.message)


def test_bodies_and_requests():
    assert parse_body(b'{"a": 1}') == {"a": 1}
    for body, message in [(b"{bad", "bad JSON"), (b"[1, 2]", "JSON object"), (b"\xff\xfe", "bad JSON"),
                          (b"", "bad JSON"), (b"[" * 60_000, "nested over 32 levels"),
                          (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", "nested over 32 levels")]:
        with pytest.raises(RequestError) as err:
            parse_body(body)
        assert message in err.value.message and len(err.value.message) < 200
    assert parse_render({"camera": {"name": "f0"}, "preview": True}, CAMERAS, CONFIG).preview
    with pytest.raises(RequestError, match="unknown render field"):
        parse_render({"camera": {"name": "f0"}, "quality": "high"}, CAMERAS, CONFIG)
    with pytest.raises(RequestError, match="true or false"):
        parse_render({"camera": {"name": "f0"}, "preview": "yes"}, CAMERAS, CONFIG)
    with pytest.raises(RequestError, match="needs a camera"):
        parse_render({}, CAMERAS, CONFIG)
    assert parse_query({"phrases": "oven"}, CAMERAS, CONFIG).camera is None
    with pytest.raises(RequestError, match="needs phrases"):
        parse_query({"camera": {"name": "f0"}}, CAMERAS, CONFIG)
    assert parse_export({"phrase": " oven "}, CONFIG).phrase == "oven"
    with pytest.raises(RequestError, match="must be a string"):
        parse_export({"phrase": ["oven"]}, CONFIG)
    scene_wide = parse_chat({"question": " how many chairs? "}, CAMERAS, CONFIG)
    assert (scene_wide.question, scene_wide.camera) == ("how many chairs?", None)
    from_view = parse_chat({"question": "is the lamp left of the bed?", "camera": {"name": "f0"}}, CAMERAS, CONFIG)
    assert from_view.camera is not None and from_view.camera.name == "f0"
    with pytest.raises(RequestError, match="type a question"):
        parse_chat({"question": "  "}, CAMERAS, CONFIG)
    with pytest.raises(RequestError, match="unknown camera"):
        parse_chat({"question": "what is left of the bed?", "camera": {"name": "nope"}}, CAMERAS, CONFIG)


def test_query_modes_and_object_requests():
    assert parse_query({"phrases": "oven"}, CAMERAS, CONFIG).mode == "pixels"
    assert parse_query({"phrases": "oven", "mode": "objects"}, CAMERAS, CONFIG).mode == "objects"
    for mode in ["voxels", 1, None, "Objects"]:
        with pytest.raises(RequestError, match="mode must be one of"):
            parse_query({"phrases": "oven", "mode": mode}, CAMERAS, CONFIG)
    assert parse_objects({}, CONFIG) == ObjectsRequest(None, 3)
    assert parse_objects({"labels": "  ", "top": 1}, CONFIG) == ObjectsRequest(None, 1)
    assert parse_objects({"labels": []}, CONFIG).labels is None
    assert parse_objects({"labels": "chair, oven ", "top": 10}, CONFIG) == ObjectsRequest(("chair", "oven"), 10)
    # a vocabulary may be longer than one query's phrases, up to max_labels
    many = [f"label {i}" for i in range(CONFIG.max_labels)]
    assert len(parse_objects({"labels": many}, CONFIG).labels) == CONFIG.max_labels
    for payload, message in [({"labels": [*many, "one more"]}, f"at most {CONFIG.max_labels}"),
                             ({"top": 0}, "top must be in 1..10"), ({"top": 11}, "top must be in 1..10"),
                             ({"top": True}, "top must be an integer"), ({"labels": 5}, "a string"),
                             ({"labels": "chair, , oven"}, "phrase 1 is empty"),
                             ({"vocabulary": "chair"}, "unknown objects field")]:
        with pytest.raises(RequestError) as err:
            parse_objects(payload, CONFIG)
        assert message in err.value.message, (payload, err.value.message)


def test_config_and_host_warning():
    assert host_warning(ViewerConfig()) is None
    warning = host_warning(ViewerConfig(host="0.0.0.0"))
    assert warning is not None and "no authentication" in warning
    with pytest.raises(ValueError, match="port"):
        ViewerConfig(port=70000)
    with pytest.raises(ValueError, match="full_long_side"):
        ViewerConfig(full_long_side=1024, max_side=512)
