"""Serves captured copies of websites over HTTP on loopback, for end-to-end tests and the demo.

Files live at ``<root>/<snapshot>/<host>/<path>``. The crawler connects to 127.0.0.1 but keeps
the original Host header (like ``curl --resolve``), so requests are routed by Host; its port is
ignored and "www." is significant. When the Host is the loopback address itself (a person in a
browser), the first path segment names the host: ``/example.org/news/``; ``/`` lists the hosts.

Path mapping, after percent-decoding the path (the query is used exactly as sent):

* ``/a/b/`` serves ``a/b/index.html``; ``/a/b`` serves the file ``a/b``, or answers 301 to
  ``/a/b/`` when ``a/b`` is a directory, as real servers do.
* ``/a/b?x=1`` serves the file literally named ``a/b?x=1`` (``/a/?x=1`` → ``a/?x=1``) if it
  exists, otherwise falls back to ``/a/b`` as if there were no query.

``<host>/_headers.json`` (never served itself) maps a requested path (with its query, or
without one to cover every query) to extra response headers; a header set to null is removed,
and an optional "status" replaces the status, keeping the file's body only if one was found:
``{"/old/": {"status": 301, "Location": "/new/"}, "/legacy.html": {"Content-Type": "text/html"}}``.

Every 200 carries a strong ETag and a Last-Modified derived from the body alone (checkouts change
file mtimes), so conditional GETs get 304 exactly when the content is unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import ipaddress
import json
import logging
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote

if TYPE_CHECKING:
    from email.message import Message
    from types import TracebackType

log = logging.getLogger(__name__)

SIDECAR = "_headers.json"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".json": "application/json",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain; charset=utf-8",
    ".gz": "application/gzip",
}
_LOOPBACK_NAMES = frozenset({"", "localhost", "127.0.0.1", "::1"})
# Last-Modified stamps land in 2020-2023: plausible dates, fixed per body.
_STAMP_START = 1_577_836_800
_STAMP_SPAN = 4 * 365 * 86_400


@dataclass(frozen=True)
class Fault:
    """One scripted response. A body without a Content-Type header is sent as HTML."""

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before answering; cut short by the server stopping
    reset: bool = False  # after the delay, drop the connection without a response


@dataclass(frozen=True)
class RecordedRequest:
    """A request as routed. Header names are lower-case; status 0 means no response was sent."""

    method: str
    host: str
    path: str
    query: str
    headers: dict[str, str]
    status: int
    bytes_sent: int
    time: float  # time.monotonic() when the request arrived


@dataclass(frozen=True)
class _Target:
    host: str
    path: str  # without query, and without the host segment when browsing
    query: str
    browsing: bool


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""


def _loopback_host(host: str) -> str:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"the fixture server binds to loopback only, not {host!r}")
    return "127.0.0.1" if host == "localhost" else host


def _route(host_header: str | None, raw_target: str) -> _Target:
    raw_path, _, query = raw_target.partition("?")
    value = (host_header or "").strip().lower()
    host = value[1:].partition("]")[0] if value.startswith("[") else value.partition(":")[0]
    if host not in _LOOPBACK_NAMES:
        return _Target(host, raw_path, query, browsing=False)
    first, slash, rest = raw_path.lstrip("/").partition("/")
    return _Target(first.lower(), slash + rest, query, browsing=True)


def _page(status: int, headers: dict[str, str], text: str) -> _Reply:
    body = f"<!doctype html><title>{status}</title><p>{html.escape(text)}</p>\n".encode()
    return _Reply(status, {"Content-Type": CONTENT_TYPES[".html"], **headers}, body)


def _host_index(hosts: list[str]) -> _Reply:
    links = "".join(f'<li><a href="/{h}/">{html.escape(h)}</a></li>' for h in hosts)
    body = f"<!doctype html><title>Fixture hosts</title><ul>{links}</ul>\n".encode()
    return _Reply(200, {"Content-Type": CONTENT_TYPES[".html"]}, body)


def _contained(host_dir: Path, relative: str) -> Path | None:
    """The path under host_dir, or None if it escapes it or names the sidecar."""
    try:
        candidate = (host_dir / relative.lstrip("/")).resolve()
    except (OSError, ValueError):
        return None
    if candidate.name == SIDECAR or not candidate.is_relative_to(host_dir.resolve()):
        return None
    return candidate


def _file_reply(file: Path) -> _Reply:
    body = file.read_bytes()
    digest = hashlib.sha256(body).hexdigest()
    stamp = _STAMP_START + int(digest[16:28], 16) % _STAMP_SPAN
    suffix = Path(file.name.partition("?")[0]).suffix.lower()
    headers = {
        "Content-Type": CONTENT_TYPES.get(suffix, "application/octet-stream"),
        "ETag": f'"{digest[:16]}"',
        "Last-Modified": formatdate(stamp, usegmt=True),
    }
    return _Reply(200, headers, body)


def _serve_path(host_dir: Path, path: str, query: str) -> _Reply:
    decoded = unquote(path)
    if query and (hit := _contained(host_dir, f"{decoded}?{query}")) and hit.is_file():
        return _file_reply(hit)
    target = _contained(host_dir, decoded + "index.html" if decoded.endswith("/") else decoded)
    if target is not None and target.is_file():
        return _file_reply(target)
    if target is not None and target.is_dir() and not decoded.endswith("/"):
        location = path + "/" + (f"?{query}" if query else "")
        return _page(301, {"Location": location}, f"Moved to {location}")
    return _page(404, {}, f"Not found: {path}")


def _sidecar_entry(host_dir: Path, path: str, query: str) -> dict[str, Any]:
    sidecar = host_dir / SIDECAR
    if not sidecar.is_file():
        return {}
    table = json.loads(sidecar.read_text(encoding="utf-8"))
    for key in [f"{path}?{query}", path] if query else [path]:
        entry = table.get(key)
        if isinstance(entry, dict):
            return dict(entry)
        if entry is not None:
            raise ValueError(f"{sidecar}: entry {key!r} must be an object")
    return {}


def _set_header(headers: dict[str, str], name: str, value: object) -> None:
    for existing in [key for key in headers if key.lower() == name.lower()]:
        del headers[existing]
    if value is not None:
        headers[name] = str(value)


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _with_overrides(reply: _Reply, entry: dict[str, Any]) -> _Reply:
    status = entry.pop("status", None)
    if status is not None:
        found = reply.status == 200
        reply = _Reply(int(status), reply.headers if found else {}, reply.body if found else b"")
    headers = dict(reply.headers)
    for name, value in entry.items():
        _set_header(headers, name, value)
    return _Reply(reply.status, headers, reply.body)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/ prefixes do not matter.
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def _not_modified(request: dict[str, str], reply: _Reply) -> bool:
    etag, last_modified = _header(reply.headers, "ETag"), _header(reply.headers, "Last-Modified")
    if "if-none-match" in request:
        return etag is not None and _etag_matches(request["if-none-match"], etag)
    if "if-modified-since" not in request or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(request["if-modified-since"])
        return since >= parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):  # unparsable, or naive against aware: ignore as servers do
        return False


def _conditional(request: dict[str, str], reply: _Reply) -> _Reply:
    if reply.status != 200 or not _not_modified(request, reply):
        return reply
    kept = {"etag", "last-modified", "cache-control"}
    return _Reply(304, {k: v for k, v in reply.headers.items() if k.lower() in kept})


def _fault_reply(fault: Fault) -> _Reply:
    headers = dict(fault.headers)
    if fault.body and _header(headers, "Content-Type") is None:
        headers["Content-Type"] = CONTENT_TYPES[".html"]
    return _Reply(fault.status, headers, fault.body)


def _browsable(reply: _Reply, host: str) -> _Reply:
    """Keeps root-relative redirects inside the /<host>/ prefix a browser is using."""
    location = _header(reply.headers, "Location")
    if location is None or not location.startswith("/") or location.startswith("//"):
        return reply
    headers = dict(reply.headers)
    _set_header(headers, "Location", f"/{host}{location}")
    return _Reply(reply.status, headers, reply.body)


def _header_dict(message: Message[str, str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in message.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the crawler's connection pool expects
    server_version = "RadarFixture/1.0"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.server.fixture._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fixture._untrack(self.connection)

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        fixture, received = self.server.fixture, time.monotonic()
        target = _route(self.headers.get("Host"), self.path)
        headers = _header_dict(self.headers)
        reply = fixture._answer(self.command, target, headers)
        status = 0 if reply is None else reply.status
        sending = 0 if reply is None or not self._has_body(reply) else len(reply.body)
        # Recorded before sending so a client that has its response also sees the record.
        fixture._record(
            RecordedRequest(
                method=self.command,
                host=target.host,
                path=target.path,
                query=target.query,
                headers=headers,
                status=status,
                bytes_sent=sending,
                time=received,
            )
        )
        if reply is None:
            self._reset()
        else:
            self._send(reply)

    def _has_body(self, reply: _Reply) -> bool:
        return self.command != "HEAD" and reply.status != 304

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if _header(reply.headers, "Content-Length") is not None:
            self.close_connection = True  # a scripted, possibly lying length: do not reuse
        elif reply.status != 304:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self._has_body(reply):
            try:
                self.wfile.write(reply.body)
            except OSError:  # the client gave up, e.g. after its own timeout
                self.close_connection = True

    def _reset(self) -> None:
        self.close_connection = True
        # Linger 0 makes close() send RST instead of FIN, like a crashed server or middlebox.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


class _HTTPServer(ThreadingHTTPServer):
    def __init__(self, fixture: FixtureServer, address: tuple[str, int]) -> None:
        self.fixture = fixture
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fixture server: error serving %s", client_address, exc_info=True)


class FixtureServer:
    """Serves ``<root>/<snapshot>/<host>/...`` on loopback; see the module docstring."""

    def __init__(
        self, root: Path, *, snapshot: str, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._bind = (_loopback_host(host), port)
        self._root = Path(root)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: dict[tuple[str, str], deque[Fault]] = {}
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._snapshot = self._checked(snapshot)
        self.latency = 0.0  # seconds added before every response

    # Lifecycle

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("fixture server already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(self, self._bind)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the accept loop
            name="fixture-server",
            daemon=True,
        )
        self._thread.start()
        log.debug("fixture server on %s serving %s", self.base_url, self._root)

    def stop(self) -> None:
        """Stops promptly: cuts scripted delays short and closes idle keep-alive connections."""
        if self._httpd is None or self._thread is None:
            return
        with self._lock:
            self._stopping.set()
            open_connections = list(self._connections)
        self._httpd.shutdown()
        for connection in open_connections:
            _shutdown_quietly(connection)
        self._httpd.server_close()  # joins the request threads
        self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("fixture server not started")
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> str:
        host = self._bind[0]
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    # Content

    @property
    def snapshot(self) -> str:
        with self._lock:
            return self._snapshot

    @snapshot.setter
    def snapshot(self, name: str) -> None:
        checked = self._checked(name)
        with self._lock:
            self._snapshot = checked

    def hosts(self) -> list[str]:
        """The host directories of the current snapshot, sorted."""
        snapshot_dir = self._root / self.snapshot
        return sorted(p.name for p in snapshot_dir.iterdir() if p.is_dir())

    def script(self, host: str, path: str, faults: list[Fault]) -> None:
        """Queues faults for host+path (a path without query matches any query)."""
        with self._lock:
            self._faults.setdefault((host.lower(), path), deque()).extend(faults)

    # Request log

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, host: str, path: str | None = None) -> list[RecordedRequest]:
        return [
            r for r in self.requests if r.host == host.lower() and (path is None or r.path == path)
        ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # Used by the request handler

    def _answer(self, method: str, target: _Target, headers: dict[str, str]) -> _Reply | None:
        """The reply to send, or None to drop the connection without one."""
        if self.latency > 0 and self._stopping.wait(self.latency):
            return None
        fault = self._next_fault(target)
        if fault is not None:
            interrupted = fault.delay > 0 and self._stopping.wait(fault.delay)
            return None if interrupted or fault.reset else _fault_reply(fault)
        if method not in ("GET", "HEAD"):
            return _page(405, {"Allow": "GET, HEAD"}, f"{method} not allowed")
        try:
            reply = self._serve(target)
        except (OSError, ValueError) as error:  # a broken fixture tree should be loud
            log.warning("fixture server: %s", error)
            reply = _page(500, {}, f"Fixture error: {error}")
        return _conditional(headers, reply)

    def _serve(self, target: _Target) -> _Reply:
        if target.browsing and not target.host:
            return _host_index(self.hosts())
        host_dir = self._root / self.snapshot / target.host
        if target.host.startswith(".") or "/" in target.host or not host_dir.is_dir():
            return _page(404, {}, f"Unknown host: {target.host}")
        entry = _sidecar_entry(host_dir, target.path, target.query)
        reply = _with_overrides(_serve_path(host_dir, target.path, target.query), entry)
        return _browsable(reply, target.host) if target.browsing else reply

    def _next_fault(self, target: _Target) -> Fault | None:
        keys = [(target.host, target.path)]
        if target.query:
            keys.insert(0, (target.host, f"{target.path}?{target.query}"))
        with self._lock:
            for key in keys:
                if queue := self._faults.get(key):
                    return queue.popleft()
        return None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self._connections.add(connection)
                return
        _shutdown_quietly(connection)  # accepted just before stop(): do not let it linger

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _checked(self, snapshot: str) -> str:
        if not (self._root / snapshot).is_dir():
            raise ValueError(f"no snapshot directory {self._root / snapshot}")
        return snapshot


def _shutdown_quietly(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by its handler
        connection.shutdown(socket.SHUT_RDWR)
