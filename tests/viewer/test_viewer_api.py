"""The viewer's HTTP API on a served scene with a known answer: answers, validation, robustness to
malformed requests, concurrent clients, and files served only from where they may be."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from dataclasses import replace
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image
from viewer_http import best_view, decode_f32, get_json, post_json, request

from viewer.config import ViewerConfig
from viewer.server import make_server, serve_in_thread


def healthy(base: str) -> bool:
    status, data = get_json(base, "/api/health")
    return status == 200 and data == {"ok": True}


def png_pixels(data_url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB"))


def test_scene_info_and_points(served, gt_scene):
    status, info = get_json(served.url, "/api/scene")
    assert status == 200
    assert [c["name"] for c in info["cameras"]] == [f.name for f in gt_scene.capture.frames]
    assert info["chat"] is False and info["threshold"] == 0.5 and len(info["overlay"]["turbo"]) == 7
    status, points = get_json(served.url, "/api/points")
    xyz = decode_f32(points["positions"]).reshape(-1, 3)
    np.testing.assert_array_equal(xyz, gt_scene.viewer.points.xyz)
    assert len(base64.b64decode(points["colors"])) == 3 * points["count"] == 3 * info["num_points"]


def test_preview_then_still(served):
    camera = {"name": "frame_00003"}
    status, preview = post_json(served.url, "/api/render", {"camera": camera, "preview": True})
    assert status == 200 and preview["image"].startswith("data:image/jpeg")
    assert (preview["width"], preview["height"]) == (24, 18)  # a quarter of 96x72 per side
    status, still = post_json(served.url, "/api/render", {"camera": camera})
    assert status == 200 and png_pixels(still["image"]).shape == (72, 96, 3)
    status, again = post_json(served.url, "/api/render", {"camera": camera})
    assert again["cached"] and again["image"] == still["image"]


def test_query_lights_up_the_labelled_object(served, gt_scene):
    """The view's relevancy peaks on the ground-truth mask; the points' on the label's boxes."""
    frame, label, mask = best_view(gt_scene.ground_truth, [f.name for f in gt_scene.capture.frames])
    payload = {"camera": {"name": frame}, "phrases": f"{label}, wall"}
    status, data = post_json(served.url, "/api/query", payload)
    assert status == 200, data
    first, second = data["results"]
    assert (first["phrase"], second["phrase"]) == (label, "wall")
    values = decode_f32(first["view"]["values"]).reshape(data["height"], data["width"])
    hot = values >= 0.5 + 0.8 * (values.max() - 0.5)
    assert hot.sum() > 50 and (hot & mask).sum() / hot.sum() > 0.8
    assert 0.0 <= first["view"]["scale"] <= 1.5
    wall = decode_f32(second["view"]["values"]).reshape(values.shape)
    assert (wall[mask] < 0.5).mean() > 0.8  # the object is not a wall
    points = decode_f32(first["points"]["values"])
    xyz = gt_scene.viewer.points.xyz
    boxes = [o for o in gt_scene.ground_truth.objects if o.label == label]
    in_box = np.zeros(len(xyz), bool)
    for box in boxes:
        in_box |= np.all((xyz >= box.box_min - 0.05) & (xyz <= box.box_max + 0.05), axis=1)
    hot_points = points >= 0.5 + 0.8 * (points.max() - 0.5)
    assert hot_points.sum() > 20 and in_box[hot_points].mean() > 0.8
    assert data["recent"][0]["text"] == f"{label}, wall"


def test_recent_queries_are_deduplicated(served):
    for text in ["oven", "chair", "oven"]:
        status, data = post_json(served.url, "/api/query", {"phrases": text})
        assert status == 200 and "image" not in data  # no camera: points only
    texts = [entry["text"] for entry in data["recent"]]
    assert texts[:2] == ["oven", "chair"] and texts.count("oven") == 1


JSON = "application/json"


@pytest.mark.parametrize("path, payload, raw, content_type, status, message", [
    ("/api/query", None, b"{not json", "application/json", 400, "bad JSON"),
    ("/api/query", None, b"\x00\xff", "application/json", 400, "bad JSON"),
    ("/api/query", [1, 2], None, "application/json", 400, "JSON object"),
    ("/api/query", {"phrases": "  "}, None, "application/json", 400, "phrase 0 is empty"),
    ("/api/query", {"phrases": "oven", "colour": "red"}, None, JSON, 400, "unknown query field"),
    ("/api/query", {"phrases": "oven", "camera": {"name": "kitchen"}}, None, "application/json", 404,
     "unknown camera 'kitchen'"),
    ("/api/render", {"camera": {"name": "frame_00000", "fov": 90}}, None, "application/json", 400,
     "unknown camera field(s) ['fov']"),
    ("/api/render", {"camera": {"camera_to_world": np.eye(4).tolist(), "fov_y": 60, "width": 512,
                                "height": 512}}, None, "application/json", 400, "over the viewer's cap"),
    ("/api/render", {"camera": {"name": "frame_00000"}}, None, "text/plain", 415, "Content-Type: " + JSON),
    ("/api/export", {"phrase": ""}, None, "application/json", 400, "empty"),
    ("/api/chat", {"question": "how many chairs?"}, None, "application/json", 404, "no scene LLM"),
    ("/api/teapot", {}, None, "application/json", 404, "no endpoint"),
    ("/api/scene", {}, None, "application/json", 405, "no endpoint"),
    ("/api/query", None, b'{"phrases": ' + b"[" * 60_000, JSON, 400, "nested over 32 levels"),
    ("/api/render", {"camera": {"camera_to_world": [[1, 0, 0, 1e308], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
                                "fov_y": 60, "width": 32, "height": 24}}, None, JSON, 400,
     "camera_to_world translation"),
])
def test_malformed_requests_get_json_errors_and_the_server_stays_up(served, path, payload, raw, content_type,
                                                                    status, message):
    got, data = post_json(served.url, path, payload, raw=raw, content_type=content_type)
    assert got == status and message in data["error"], data
    assert healthy(served.url)


def test_broken_http_does_not_take_the_server_down(served):
    status, _, body = request(served.url, "POST", "/api/query", b"x" * 10,
                              {"Content-Type": "application/json", "Content-Length": str(10**9)})
    assert status == 413 and b"limit" in body
    parts = urlsplit(served.url)
    garbage_requests = [b"NONSENSE\r\n\r\n", b"GET /api/health HTTP/9.9\r\n\r\n",
                        b"POST /api/query HTTP/1.1\r\n\r\n",
                        b"\x16\x03\x01\x02\x00\x01\x00"]  # the last: a TLS hello to a plain HTTP port
    for garbage in garbage_requests:
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(4096)
    status, _, _ = request(served.url, "GET", "/api/scene", headers={"Host": "evil.example"})
    assert status == 403  # a DNS-rebinding page cannot reach a localhost viewer
    assert healthy(served.url)


def test_an_internal_error_is_reported_and_survived(served, monkeypatch):
    def broken(request):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(served.server.api, "render", broken)
    status, data = post_json(served.url, "/api/render", {"camera": {"name": "frame_00000"}})
    assert status == 500 and "kaboom" in data["error"]
    monkeypatch.undo()
    assert healthy(served.url)


@pytest.mark.parametrize("path", [
    "/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
    "/static/../../pyproject.toml", "/static//etc/passwd", "/static/%2Fetc%2Fpasswd",
    "/static/vendor/../../api.py", "/static/index.html%00.js", "/exports/../exports",
    "/exports/..%2f..%2fpyproject.toml", "/exports/%2Fetc%2Fpasswd", "/exports/.hidden.ply",
    "/exports/x%00.ply", "/../../etc/passwd", "/etc/passwd", "/viewer/server.py",
])
def test_no_file_outside_the_static_and_exports_folders(served, path):
    parts = urlsplit(served.url)
    # a raw socket: no client normalises the path before it reaches the server
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 404"), response[:200]
    assert b"root:" not in response and b"import" not in response and b"[project]" not in response


def test_static_files_are_served(served):
    status, headers, body = request(served.url, "GET", "/")
    assert status == 200 and b'id="phrases"' in body and headers["content-type"].startswith("text/html")
    status, headers, body = request(served.url, "GET", "/static/vendor/three/three.module.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    status, _, body = request(served.url, "GET", "/static/vendor/three/LICENSE")
    assert status == 200 and b"MIT" in body


def test_export_writes_a_ply_atomically_and_serves_it(served):
    status, data = post_json(served.url, "/api/export", {"phrase": "oven"})
    assert status == 200, data
    folder = served.outputs / "exports"
    path = folder / data["name"]
    assert path.is_file()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left
    header = path.read_bytes()[:400]
    assert header.startswith(b"ply\nformat binary_little_endian") and b"property float relevancy" in header
    assert data["region"]["phrase"] == "oven" and data["region"]["found"]
    status, headers, body = request(served.url, "GET", data["url"])
    assert status == 200 and body == path.read_bytes()
    assert headers["content-disposition"] == f'attachment; filename="{data["name"]}"'
    status, _, box = request(served.url, "GET", data["box_url"])
    assert status == 200 and json.loads(box)["phrase"] == "oven"


def test_concurrent_clients_get_their_own_answers(served):
    """Six clients query different phrases on different cameras at once (with previews in between):
    each gets exactly what it gets alone."""
    jobs = [({"name": f"frame_{i:05d}"}, phrase) for i, phrase in
            zip(range(0, 12, 2), ["oven", "chair", "wall", "floor", "oven, chair", "ceiling"], strict=True)]
    expected = {}
    for camera, phrases in jobs:
        status, data = post_json(served.url, "/api/query", {"camera": camera, "phrases": phrases})
        assert status == 200
        expected[(camera["name"], phrases)] = [r["view"]["values"] for r in data["results"]]
    got, errors = {}, []

    def client(camera, phrases):
        try:
            post_json(served.url, "/api/render", {"camera": camera, "preview": True})
            status, data = post_json(served.url, "/api/query", {"camera": camera, "phrases": phrases})
            assert status == 200, data
            got[(camera["name"], phrases)] = [r["view"]["values"] for r in data["results"]]
        except Exception as err:  # collected: an assert inside a thread would be lost
            errors.append(err)

    threads = [threading.Thread(target=client, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and got == expected


def test_chat_endpoint_with_a_scene_llm(gt_scene, tmp_path):
    from lerf3d.scene_llm.use.explain import UsedObject
    from viewer.chat import ChatReply

    questions, cameras = [], []
    oven = UsedObject(3, "oven", (0.25, -0.5, 0.3), (0.5, 1.0, 0.6), "question", (0.0, -1.0, 0.0), (0.5, 0.0, 0.6))
    lamp = UsedObject(7, "lamp", (1.0, 1.0, 1.5), None, "identifier")

    def fake_llm(question: str, camera=None) -> str | ChatReply:
        questions.append(question)
        cameras.append(camera)
        if "ovens" in question:
            return ChatReply("three, <obj7>", (oven, lamp))
        if "sofa" in question:
            return ChatReply("no", (), "the objects behind answers cannot be named: no vocabulary")
        return "yes"

    server = make_server(replace(gt_scene.viewer, chat=fake_llm), ViewerConfig(port=0, outputs_dir=tmp_path))
    serve_in_thread(server)
    try:
        base = server.url.rstrip("/")
        assert get_json(base, "/api/scene")[1]["chat"] is True
        status, data = post_json(base, "/api/chat", {"question": "how many ovens are there?"})
        assert status == 200 and data["answer"] == "three, <obj7>" and questions == ["how many ovens are there?"]
        assert data["frame"] == "world" and data["note"] is None and data["asked_from"] == "scene"
        assert cameras == [None]
        assert data["objects"] == [
            {"id": 3, "identifier": "<obj3>", "label": "oven", "reason": "question", "centre": [0.25, -0.5, 0.3],
             "lower": [0.0, -1.0, 0.0], "upper": [0.5, 0.0, 0.6]},
            {"id": 7, "identifier": "<obj7>", "label": "lamp", "reason": "identifier", "centre": [1.0, 1.0, 1.5],
             "lower": None, "upper": None}]
        status, data = post_json(base, "/api/chat", {"question": "is there a sofa?"})  # no names: still a 200
        assert status == 200 and data["answer"] == "no" and data["objects"] == []
        assert data["note"].startswith("the objects behind answers cannot be named")
        status, data = post_json(base, "/api/chat", {"question": "is it lit?"})  # a plain answer names none
        assert status == 200 and (data["answer"], data["objects"], data["note"]) == ("yes", [], None)
        status, data = post_json(base, "/api/chat", {"question": " "})
        assert status == 400 and "type a question" in data["error"]
        # asked from a camera: the chat function gets it, the reply says so
        name = next(iter(gt_scene.viewer.cameras))
        status, data = post_json(base, "/api/chat", {"question": "is it lit?", "camera": {"name": name}})
        assert status == 200 and data["asked_from"] == "view" and cameras[-1].name == name
        np.testing.assert_allclose(cameras[-1].camera_to_world, gt_scene.viewer.cameras[name].camera_to_world)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("preview", [True, False])
def test_a_camera_far_outside_the_room_renders_or_is_refused(served, preview):
    """The largest translation accepted renders (nothing in view) instead of overflowing; one past it
    is a 400 naming the field."""
    from viewer.protocol import MAX_TRANSLATION

    def camera(offset: float) -> dict:
        pose = np.eye(4)
        pose[:3, 3] = [offset, -offset, offset]
        return {"camera": {"camera_to_world": pose.tolist(), "fov_y": 60, "width": 32, "height": 24},
                "preview": preview}

    status, data = post_json(served.url, "/api/render", camera(MAX_TRANSLATION))
    assert status == 200, data
    assert data["preview"] is preview and data["image"].startswith("data:image/")
    status, data = post_json(served.url, "/api/render", camera(10 * MAX_TRANSLATION))
    assert status == 400 and "camera_to_world translation" in data["error"]
