"""The viewer's HTTP server: the static page, a JSON API over one :class:`ViewerAPI`, and the
exports folder, on 127.0.0.1 unless told otherwise.

    python -m viewer CKPT [--port 7007] [--host 127.0.0.1]     (same as ``lerf3d view``)

Every request gets an answer: malformed ones a JSON ``{"error": ...}`` with a 4xx status (a method
other than GET/HEAD/POST a 405 with ``Allow``), a bug a 500 with its message; the server keeps
serving either way. A client that hangs up is let go quietly, one that stalls is timed out, and a
burst of connections waits in a deep listen queue instead of being reset. Files are served from two
places only, each resolved and checked to lie inside it: the page's static folder and the exports
folder.

The standard library's threaded server holds the load once configured (a thread per connection,
1024-deep listen queue, socket timeouts, a connection cap): the work behind each request is torch on
one scene under one lock, so an event loop would only queue the same renders elsewhere
(bench/viewer_load.py measures it).
"""

from __future__ import annotations

import errno
import json
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from viewer.api import ViewerAPI
from viewer.config import ViewerConfig
from viewer.protocol import (
    RequestError,
    parse_body,
    parse_chat,
    parse_export,
    parse_objects,
    parse_query,
    parse_render,
)
from viewer.scene import ViewerScene

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The page: index.html, app.js, style.css and the vendored three.js."""
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
                ".txt": "text/plain; charset=utf-8", ".json": "application/json"}
"""The only file types the static route serves."""
LOCAL_HOSTNAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
"""Host headers accepted by a localhost server: another name pointing here is a DNS-rebinding page."""
HANGUPS = (ConnectionError, TimeoutError)
"""A client that reset, closed or stalled its connection: nobody is left to answer, nothing to log."""


class ViewerHandler(BaseHTTPRequestHandler):
    """Routes one request; the scene and settings live on the server object."""

    protocol_version = "HTTP/1.1"
    server: ViewerHTTPServer

    # -- plumbing -------------------------------------------------------------------------------

    def setup(self) -> None:
        self.timeout = self.server.config.socket_timeout_s  # read by StreamRequestHandler.setup
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if self.server.verbose:
            super().log_message(format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, unknown method, huge headers) as JSON too."""
        self.close_connection = True
        try:
            extra = {"Allow": ALLOWED_METHODS} if code in (405, 501) else None
            self._error(code, message or self.responses.get(code, ("error",))[0], extra)
        except HANGUPS:
            pass

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps({"error": message, "status": status}).encode("utf-8"),
                   "application/json", extra)

    def _path(self) -> str:
        return unquote(urlsplit(self.path).path)

    def _host_allowed(self) -> bool:
        if not self.server.config.is_local:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOCAL_HOSTNAMES

    def _guarded(self, route: Any) -> None:
        try:
            try:
                if not self._host_allowed():
                    raise RequestError("this viewer only answers requests addressed to localhost", status=403)
                route()
            except RequestError as err:
                allow = {"Allow": allowed_methods(self._path())} if err.status == 405 else None
                self._error(err.status, err.message, allow)
            except TimeoutError:  # the body stopped arriving: say so if the client still listens
                self.close_connection = True
                self._error(408, f"the request stalled for {self.server.config.socket_timeout_s:g} s")
            except HANGUPS:
                raise
            except Exception as err:  # a bug must not take the server down: report it, keep serving
                traceback.print_exc(file=sys.stderr)
                self._error(500, f"internal error ({type(err).__name__}: {err})")
        except HANGUPS:
            self.close_connection = True

    def _method_not_allowed(self) -> None:
        def refuse() -> None:
            self.close_connection = True  # any body stays unread
            raise RequestError(f"method {self.command} is not allowed on {self._path()}", status=405)

        self._guarded(refuse)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _method_not_allowed

    # -- GET ------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._guarded(self._route_get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._guarded(self._route_get)

    def _route_get(self) -> None:
        path = self._path()
        api = self.server.api
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/static/"):
            self._static(path[len("/static/"):])
        elif path == "/api/health":
            self._json({"ok": True})
        elif path == "/api/scene":
            self._json(api.info())
        elif path == "/api/points":
            self._json(api.points())
        elif path.startswith("/exports/"):
            exported = api.exported_file(path[len("/exports/"):])
            kind = "application/octet-stream" if exported.path.suffix == ".ply" else "application/json"
            self._send(200, exported.path.read_bytes(), kind,
                       {"Content-Disposition": f'attachment; filename="{exported.name}"'})
        elif path.startswith("/api/"):
            raise RequestError(f"no endpoint GET {path}", status=405 if path in POST_ROUTES else 404)
        else:
            raise RequestError(f"not found: {path}", status=404)

    def _static(self, relative: str) -> None:
        root = STATIC_DIR
        if "\x00" in relative:
            raise RequestError("not found: a path with a NUL byte", status=404)
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise RequestError(f"not found: /static/{relative}", status=404)
        kind = STATIC_TYPES.get(target.suffix.lower())
        if kind is None and target.name == "LICENSE":
            kind = STATIC_TYPES[".txt"]
        if kind is None:
            raise RequestError(f"not found: /static/{relative}", status=404)
        self._send(200, target.read_bytes(), kind)

    # -- POST -----------------------------------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._route_post)

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            raise RequestError("a JSON body with a Content-Length is needed", status=411) from None
        if length < 0 or length > self.server.config.max_body_bytes:
            self.close_connection = True  # the body stays unread: this connection cannot be reused
            limit = self.server.config.max_body_bytes
            raise RequestError(f"request body of {length} bytes is over the {limit} byte limit", status=413)
        body = self.rfile.read(length)
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError(f"send JSON (Content-Type: application/json), not {kind or 'nothing'}",
                               status=415)
        return parse_body(body)

    def _route_post(self) -> None:
        path = self._path()
        if path not in POST_ROUTES:
            self.close_connection = True
            raise RequestError(f"no endpoint POST {path}", status=405 if path in GET_ROUTES else 404)
        payload = self._body()
        self._json(POST_ROUTES[path](self.server, payload))


def _render(server: ViewerHTTPServer, payload: dict[str, Any]) -> dict[str, Any]:
    return server.api.render(parse_render(payload, server.api.scene.cameras, server.config))


def _query(server: ViewerHTTPServer, payload: dict[str, Any]) -> dict[str, Any]:
    return server.api.query(parse_query(payload, server.api.scene.cameras, server.config))


def _export(server: ViewerHTTPServer, payload: dict[str, Any]) -> dict[str, Any]:
    return server.api.export(parse_export(payload, server.config))


def _objects(server: ViewerHTTPServer, payload: dict[str, Any]) -> dict[str, Any]:
    return server.api.object_list(parse_objects(payload, server.config))


def _chat(server: ViewerHTTPServer, payload: dict[str, Any]) -> dict[str, Any]:
    if server.api.scene.chat is None:  # the endpoint exists only with a scene LLM
        raise RequestError("no scene LLM is loaded: start the viewer with --llm RUN", status=404)
    return server.api.chat(parse_chat(payload, server.api.scene.cameras, server.config))


POST_ROUTES = {"/api/render": _render, "/api/query": _query, "/api/export": _export, "/api/objects": _objects,
               "/api/chat": _chat}
"""JSON endpoints taking a body."""
GET_ROUTES = frozenset({"/api/scene", "/api/points", "/api/health"})
"""JSON endpoints without one."""
ALLOWED_METHODS = "GET, HEAD, POST"
"""The methods this server answers at all (the ``Allow`` of a 501)."""


def allowed_methods(path: str) -> str:
    """The ``Allow`` header of a 405 on ``path``."""
    return "POST" if path in POST_ROUTES else "GET, HEAD"


def bind_listener(config: ViewerConfig) -> socket.socket:
    """A listening socket on ``config.host:config.port``; ValueError naming the port when it is taken
    (called before the model loads, so a busy port costs nothing)."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    try:
        return socket.create_server((config.host, config.port), family=family, backlog=config.listen_backlog)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ValueError(f"port {config.port} on {config.host} is already in use (another viewer?): "
                             "stop it or pass --port N") from None
        raise ValueError(f"cannot listen on {config.host} port {config.port}: {err.strerror or err}") from None


def busy_reply(limit: int) -> bytes:
    """The whole HTTP answer to a connection over the cap."""
    body = json.dumps({"error": f"the viewer is serving its limit of {limit} connections: retry shortly",
                       "status": 503}).encode("utf-8")
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


class ViewerHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most ``config.max_connections`` at once; daemon threads so a
    stuck client never blocks shutdown."""

    daemon_threads = True

    def __init__(self, api: ViewerAPI, config: ViewerConfig, verbose: bool = False,
                 listener: socket.socket | None = None) -> None:
        self.api = api
        self.config = config
        self.verbose = verbose
        self._slots = threading.BoundedSemaphore(config.max_connections)
        listener = listener if listener is not None else bind_listener(config)
        super().__init__((config.host, config.port), ViewerHandler, bind_and_activate=False)
        self.socket.close()  # the one socketserver made unbound: use the listening one
        self.socket = listener
        self.server_address = listener.getsockname()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:  # answered here, without a thread: that is what the cap saves
                request.settimeout(1.0)
                request.sendall(busy_reply(self.config.max_connections))
                request.setblocking(False)
                request.recv(65536)  # what already arrived: closing on unread data resets the answer
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up is routine; anything else is a bug worth its traceback."""
        if not isinstance(sys.exc_info()[1], HANGUPS):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{port}/"


def make_server(
    scene: ViewerScene, config: ViewerConfig = ViewerConfig(), verbose: bool = False,
    listener: socket.socket | None = None,
) -> ViewerHTTPServer:
    """A bound (not yet serving) server for ``scene``, on ``listener`` when given (see
    :func:`bind_listener`); ``config.port = 0`` picks a free port."""
    return ViewerHTTPServer(ViewerAPI(scene, config), config, verbose, listener)


def serve_in_thread(server: ViewerHTTPServer) -> threading.Thread:
    """Serve on a daemon thread (tests, benchmarks); stop with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, name="lerf3d-viewer", daemon=True)
    thread.start()
    return thread


def host_warning(config: ViewerConfig) -> str | None:
    """The warning printed when the viewer listens beyond this machine."""
    if config.is_local:
        return None
    return (f"warning: listening on {config.host}: anyone who can reach this machine on port {config.port} "
            "can query the scene, use its CPU/GPU and download exports; there is no authentication")


def serve(scene: ViewerScene, config: ViewerConfig = ViewerConfig(), verbose: bool = False,
          listener: socket.socket | None = None) -> None:
    """Serve until interrupted (Ctrl-C), on ``listener`` when one was bound already."""
    server = make_server(scene, config, verbose, listener)
    warning = host_warning(config)
    if warning:
        print(warning, file=sys.stderr)
    objects = "" if scene.objects is None else f", {len(scene.objects)} objects"
    print(f"lerf3d viewer: {server.url} ({len(scene.points.xyz)} points, {len(scene.cameras)} cameras{objects}"
          f"{', scene LLM loaded' if scene.chat else ''}); Ctrl-C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("lerf3d viewer: stopped")
    finally:
        server.server_close()
