"""The viewer's HTTP server: the static page, a JSON API over one :class:`ViewerAPI`, and the
exports folder, on 127.0.0.1 unless told otherwise.

    python -m viewer CKPT [--port 7007] [--host 127.0.0.1]     (same as ``lerf3d view``)

Every request gets an answer: malformed ones a JSON ``{"error": ...}`` with a 4xx status, a bug a
500 with its message; the server keeps serving either way. Files are served from two places only,
each resolved and checked to lie inside it: the page's static folder and the exports folder.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from viewer.api import ViewerAPI
from viewer.config import ViewerConfig
from viewer.protocol import RequestError, parse_body, parse_chat, parse_export, parse_query, parse_render
from viewer.scene import ViewerScene

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The page: index.html, app.js, style.css and the vendored three.js."""
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
                ".txt": "text/plain; charset=utf-8", ".json": "application/json"}
"""The only file types the static route serves."""
LOCAL_HOSTNAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
"""Host headers accepted by a localhost server: another name pointing here is a DNS-rebinding page."""


class ViewerHandler(BaseHTTPRequestHandler):
    """Routes one request; the scene and settings live on the server object."""

    protocol_version = "HTTP/1.1"
    server: ViewerHTTPServer

    # -- plumbing -------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if self.server.verbose:
            super().log_message(format, *args)

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

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message, "status": status}, status)

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
            if not self._host_allowed():
                raise RequestError("this viewer only answers requests addressed to localhost", status=403)
            route()
        except RequestError as err:
            self._error(err.status, err.message)
        except BrokenPipeError:
            self.close_connection = True
        except Exception as err:  # a bug must not take the server down: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            self._error(500, f"internal error ({type(err).__name__}: {err})")

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


def _chat(server: ViewerHTTPServer, payload: dict[str, Any]) -> dict[str, Any]:
    if server.api.scene.chat is None:  # the endpoint exists only with a scene LLM
        raise RequestError("no scene LLM is loaded: start the viewer with --llm RUN", status=404)
    return server.api.chat(parse_chat(payload, server.config))


POST_ROUTES = {"/api/render": _render, "/api/query": _query, "/api/export": _export, "/api/chat": _chat}
"""JSON endpoints taking a body."""
GET_ROUTES = frozenset({"/api/scene", "/api/points", "/api/health"})
"""JSON endpoints without one."""


class ViewerHTTPServer(ThreadingHTTPServer):
    """A thread per connection; daemon threads so a stuck client never blocks shutdown."""

    daemon_threads = True

    def __init__(self, api: ViewerAPI, config: ViewerConfig, verbose: bool = False) -> None:
        self.api = api
        self.config = config
        self.verbose = verbose
        super().__init__((config.host, config.port), ViewerHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{port}/"


def make_server(
    scene: ViewerScene, config: ViewerConfig = ViewerConfig(), verbose: bool = False
) -> ViewerHTTPServer:
    """A bound (not yet serving) server for ``scene``; ``config.port = 0`` picks a free port."""
    return ViewerHTTPServer(ViewerAPI(scene, config), config, verbose)


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


def serve(scene: ViewerScene, config: ViewerConfig = ViewerConfig(), verbose: bool = False) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = make_server(scene, config, verbose)
    warning = host_warning(config)
    if warning:
        print(warning, file=sys.stderr)
    print(f"lerf3d viewer: {server.url} ({len(scene.points.xyz)} points, {len(scene.cameras)} cameras"
          f"{', scene LLM loaded' if scene.chat else ''}); Ctrl-C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("lerf3d viewer: stopped")
    finally:
        server.server_close()
