"""Serves captured copies of websites over HTTP on loopback, for end-to-end tests and the demo.

Files live at ``<root>/<snapshot>/<host>/<path>``. The crawler connects to 127.0.0.1 but keeps
the original Host header (like ``curl --resolve``), so requests are routed by Host; its port is
ignored and "www." is significant. When the Host is the loopback address itself (a person in a
browser), the first path segment names the host: ``/example.org/news/``; ``/`` lists the hosts.
What each request is answered with (paths, header sidecars, validators, conditional GETs) is
radar.fixture_replies; this module is the server: threads, scripted faults, the request log.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from radar.fixture_replies import (
    Fault,
    Reply,
    Target,
    browsable,
    conditional,
    fault_reply,
    header,
    host_index,
    page,
    route,
    serve_path,
    sidecar_entry,
    with_overrides,
)

if TYPE_CHECKING:
    from email.message import Message
    from types import TracebackType

log = logging.getLogger(__name__)


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


def _loopback_host(host: str) -> str:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"the fixture server binds to loopback only, not {host!r}")
    return "127.0.0.1" if host == "localhost" else host


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
        target = route(self.headers.get("Host"), self.path)
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

    def _has_body(self, reply: Reply) -> bool:
        return self.command != "HEAD" and reply.status != 304

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if header(reply.headers, "Content-Length") or header(reply.headers, "Transfer-Encoding"):
            self.close_connection = True  # a scripted, possibly lying framing: do not reuse
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

    def _answer(self, method: str, target: Target, headers: dict[str, str]) -> Reply | None:
        """The reply to send, or None to drop the connection without one."""
        if self.latency > 0 and self._stopping.wait(self.latency):
            return None
        fault = self._next_fault(target)
        if fault is not None:
            interrupted = fault.delay > 0 and self._stopping.wait(fault.delay)
            return None if interrupted or fault.reset else fault_reply(fault)
        if method not in ("GET", "HEAD"):
            return page(405, {"Allow": "GET, HEAD"}, f"{method} not allowed")
        try:
            reply = self._serve(target)
        except (OSError, ValueError) as error:  # a broken fixture tree should be loud
            log.warning("fixture server: %s", error)
            reply = page(500, {}, f"Fixture error: {error}")
        return conditional(headers, reply)

    def _serve(self, target: Target) -> Reply:
        if target.browsing and not target.host:
            return host_index(self.hosts())
        host_dir = self._root / self.snapshot / target.host
        if target.host.startswith(".") or "/" in target.host or not host_dir.is_dir():
            return page(404, {}, f"Unknown host: {target.host}")
        entry = sidecar_entry(host_dir, target.path, target.query)
        reply = with_overrides(serve_path(host_dir, target.path, target.query), entry)
        return browsable(reply, target.host) if target.browsing else reply

    def _next_fault(self, target: Target) -> Fault | None:
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
