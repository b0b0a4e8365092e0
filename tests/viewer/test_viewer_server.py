"""The HTTP server under hostile or heavy traffic: a burst of parallel clients all answered, stalled
connections let go, a connection cap answered with a 503, other methods a JSON 405, clients that
hang up mid-answer not logged, and a busy port named before anything loads."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from viewer_http import get_json, request

from viewer.config import ViewerConfig
from viewer.protocol import RequestError
from viewer.server import ViewerHTTPServer, bind_listener, make_server, serve_in_thread

BURST = 50
"""Parallel clients of the burst test: ten times the standard library's default listen backlog."""


def address(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname, parts.port


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.fixture()
def strict_server(gt_scene, tmp_path) -> Iterator[ViewerHTTPServer]:
    """A viewer with a short idle timeout and room for only two connections."""
    server = make_server(gt_scene.viewer, ViewerConfig(port=0, outputs_dir=tmp_path, socket_timeout_s=0.5,
                                                       max_connections=2))
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


def test_a_burst_of_parallel_clients_all_get_an_answer(served):
    """50 clients open their connections at the same moment and POST: each gets an HTTP answer (the
    standard library's backlog of 5 reset some of them), all of them the same correct one."""
    start = threading.Barrier(BURST)
    answers: list[tuple[int, bytes] | Exception | None] = [None] * BURST

    def client(i: int) -> None:
        body = json.dumps({"phrases": "oven"} if i % 2 else
                          {"camera": {"name": "frame_00001"}, "preview": True}).encode()
        path = "/api/query" if i % 2 else "/api/render"
        start.wait()
        try:
            status, _, data = request(served.url, "POST", path, body, {"Content-Type": "application/json"})
            answers[i] = (status, data)
        except (OSError, http.client.HTTPException) as err:  # a reset or refused connection: what it is about
            answers[i] = err

    threads = [threading.Thread(target=client, args=(i,)) for i in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    failed = [a for a in answers if not isinstance(a, tuple)]
    assert not failed, f"{len(failed)} of {BURST} got no HTTP answer: {failed[:3]}"
    assert [status for status, _ in answers] == [200] * BURST
    queries = {json.loads(data)["results"][0]["points"]["values"] for i, (_, data) in enumerate(answers) if i % 2}
    assert len(queries) == 1  # every client got the same relevancy


@pytest.mark.skipif(not Path("/proc/sys/net/core/somaxconn").is_file(), reason="Linux's TCP_INFO layout")
def test_the_listen_queue_is_deep(served):
    """Linux reports a listening socket's queue limit in TCP_INFO's tcpi_sacked (the 6th u32 after
    8 bytes of u8 fields); the kernel caps the requested backlog at net.core.somaxconn."""
    info = served.server.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    limit = struct.unpack_from("<I", info, 8 + 5 * 4)[0]
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert limit == min(served.server.config.listen_backlog, somaxconn) and limit > BURST


def test_stalled_connections_are_let_go(strict_server):
    """Silent connections, half a request line and half a body are each closed after the timeout
    (a half body with a 408 answer), and the server keeps answering."""
    base = strict_server.url.rstrip("/")
    half_body = (b"POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"phr")
    stalls = [b"", b"GET /api/he", half_body]
    for stall in stalls:
        with socket.create_connection(address(base), timeout=20) as sock:
            sock.sendall(stall)
            response = read_all(sock)  # returns once the server closes; 20 s is the test's own limit
        if stall is half_body:
            assert response.startswith(b"HTTP/1.1 408") and b'"status": 408' in response, response
        else:
            assert response == b""
    assert get_json(base, "/api/health") == (200, {"ok": True})


def test_connections_over_the_cap_get_a_503(strict_server):
    base = strict_server.url.rstrip("/")
    held = [socket.create_connection(address(base), timeout=20) for _ in range(2)]
    try:
        # accepted in order: by the time the third is accepted both held ones have their threads
        with socket.create_connection(address(base), timeout=20) as third:
            response = read_all(third)
        assert response.startswith(b"HTTP/1.1 503"), response
        assert "connections" in json.loads(response.split(b"\r\n\r\n", 1)[1])["error"]
    finally:
        for sock in held:
            sock.close()
    for _ in range(200):  # the held threads see the close and free their slots
        try:
            status, _ = get_json(base, "/api/health")
        except ConnectionError:
            status = 0
        if status == 200:
            break
    assert status == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_other_methods_get_a_json_405_with_allow(served, method):
    for path, allow in [("/api/query", "POST"), ("/api/scene", "GET, HEAD"), ("/", "GET, HEAD")]:
        status, headers, body = request(served.url, method, path, b"{}", {"Content-Type": "application/json"})
        assert status == 405 and headers["allow"] == allow and headers["content-type"] == "application/json"
        assert method in json.loads(body)["error"]


def test_unknown_methods_and_wrong_routes_answer_json(served):
    status, headers, body = request(served.url, "BREW", "/api/query")
    assert status == 501 and headers["allow"] == "GET, HEAD, POST"
    assert json.loads(body)["status"] == 501
    status, headers, body = request(served.url, "GET", "/api/query")
    assert status == 405 and headers["allow"] == "POST" and "no endpoint" in json.loads(body)["error"]


def test_a_client_hanging_up_during_an_error_is_not_logged(served, monkeypatch, capfd):
    """The client resets its connection while the server works on a request that ends in an error:
    writing the answer fails, quietly; the server keeps serving."""
    hung_up, finished = threading.Event(), threading.Event()

    def refuse_late(request):
        hung_up.wait(30)
        raise RequestError("refused after the client left")

    original = served.server.shutdown_request

    def shutdown_request(request):  # called after the handler (and any error report) is done
        original(request)
        finished.set()

    monkeypatch.setattr(served.server.api, "render", refuse_late)
    monkeypatch.setattr(served.server, "shutdown_request", shutdown_request)
    capfd.readouterr()
    sock = socket.create_connection(address(served.url), timeout=20)
    body = json.dumps({"camera": {"name": "frame_00000"}}).encode()
    sock.sendall(b"POST /api/render HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
    sock.close()
    hung_up.set()
    assert finished.wait(30)
    monkeypatch.undo()
    assert "Traceback" not in capfd.readouterr().err
    assert get_json(served.url, "/api/health") == (200, {"ok": True})


def test_a_busy_port_is_named(tmp_path):
    taken = bind_listener(ViewerConfig(port=0))
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"port {port} on 127.0.0.1 is already in use"):
            bind_listener(ViewerConfig(port=port))
    finally:
        taken.close()
