"""The explorer's web server: the standard library's ``ThreadingHTTPServer`` (no
runtime dependency), serving the packaged page and the JSON API of
:mod:`tconv.explore.api`.

Safety, by construction:

* it serves only the files packaged in ``tconv/explore/static`` (read through
  :mod:`importlib.resources`): a path is a few plain name segments, never ``..``, a
  dot file, a percent-escape or a folder, so there is no traversal and no listing;
* a query past the caps gets HTTP 400 with the reason before any computation, and the
  caps bound every computation (a few tens of milliseconds);
* each connection has a timeout, so a slow or silent client never holds a thread;
* it evaluates nothing it receives (numbers are parsed, never run) and keeps no state
  between requests.
"""

from __future__ import annotations

import json
import re
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from . import api

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ExploreServer", "Handler", "make_server"]

#: The address ``tconv explore`` listens on: this machine only (another needs --host).
DEFAULT_HOST = "127.0.0.1"
#: The port ``tconv explore`` tries first (EE-559).
DEFAULT_PORT = 8559  # EE-559
#: seconds a connection may stay silent (request line, headers) before it is closed
TIMEOUT = 10.0
MAX_PATH = 8192  # the request target (path and query); the API caps its query at 4 KiB

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def static_file(path: str) -> tuple[bytes, str] | None:
    """The packaged file at ``path`` (under ``/static/``, or ``/`` for the page) and its
    content type, or None: a path whose segments are not plain names, or no such file.

    >>> static_file("/static/../api.py") is None
    True
    """
    if path in ("/", "/index.html"):
        parts = ["index.html"]
    elif path.startswith("/static/"):
        parts = path[len("/static/") :].split("/")
    else:
        return None
    if not parts or len(parts) > 4 or not all(_SEGMENT.match(p) and ".." not in p for p in parts):
        return None
    suffix = "." + parts[-1].rsplit(".", 1)[-1] if "." in parts[-1] else ""
    if suffix not in _TYPES:
        return None
    node: Any = resources.files("tconv.explore").joinpath("static")
    for p in parts:
        node = node.joinpath(p)
    try:
        if not node.is_file():
            return None
        return node.read_bytes(), _TYPES[suffix]
    except OSError:
        return None


class Handler(BaseHTTPRequestHandler):
    """GET (and HEAD) of the page, its static files and the API; nothing else."""

    server_version = "tconv-explore"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = TIMEOUT  # socket timeout of each connection (StreamRequestHandler)

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _send(self, status: int, body: bytes, ctype: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, head: bool = False) -> None:
        body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
        self._send(status, body, "application/json", head)

    def _error(self, status: int, message: str, field: str | None = None) -> None:
        self._json(status, {"error": message, "field": field})

    def do_GET(self, head: bool = False) -> None:
        if len(self.path) > MAX_PATH:
            self._error(400, f"query: the request is {len(self.path)} bytes, past {MAX_PATH}")
            return
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        try:
            if path == "/api/compute":
                self._json(200, api.compute(api.parse_state(query)), head)
            elif path == "/api/presets":
                self._json(200, api.presets(query), head)
            else:
                found = static_file(path)
                if found is None:
                    self._error(404, f"not found: {path[:80]}")
                else:
                    self._send(200, found[0], found[1], head)
        except api.StateError as exc:
            self._error(400, str(exc), exc.field)
        except Exception as exc:  # a bug in tconv: say so, and keep serving
            self.log_error("internal error on %r: %r", self.path[:200], exc)
            self._error(500, f"internal error: {type(exc).__name__}: {exc} (a bug in tconv)")

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def _refuse(self) -> None:
        self._error(int(HTTPStatus.METHOD_NOT_ALLOWED), f"method {self.command} not allowed")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse


class ExploreServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` for the explorer: daemon threads (Ctrl-C stops it at
    once), no address reuse tricks, ``url(query)`` for the page of a state."""

    daemon_threads = True
    block_on_close = False
    verbose = False

    def url(self, query: str = "") -> str:
        """The page's address, with a state's query string when given."""
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/" + (f"?{query}" if query else "")


class _ExploreServer6(ExploreServer):
    address_family = socket.AF_INET6


def make_server(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, verbose: bool = False
) -> ExploreServer:
    """A bound, not yet serving explorer server (``port=0`` picks a free port; read it
    back from ``server.server_address``). Call ``serve_forever()``, then ``shutdown()``
    and ``server_close()``.

    >>> srv = make_server(port=0)
    >>> srv.url().startswith("http://127.0.0.1:")
    True
    >>> srv.server_close()
    """
    cls = _ExploreServer6 if ":" in host else ExploreServer  # an IPv6 address: "::1"
    srv = cls((host, port), Handler)
    srv.verbose = verbose
    return srv
