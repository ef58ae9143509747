"""How requests reach servers: httpx's pooled transport made cheaper, and a loopback one.

scraper.fetch decides what to ask and when (politeness, retries, caps); this module only
moves the bytes. Two speed-ups live here, both measured in bench/README.md: a sniffio
import that is not retried on every lock, and an idle-connection check that looks the
socket up once per connection. Neither changes behaviour; if httpcore's internals move,
the stock transport is used.
"""

from __future__ import annotations

import functools
import importlib.util
import select
import sys
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

if TYPE_CHECKING:
    import socket
    import ssl
    from collections.abc import Mapping

# httpcore tries `import sniffio` each time it makes a lock (several per request); anyio
# no longer needs sniffio, and a failed import is not cached, so without this every request
# searched sys.path again (a quarter of the fetch CPU). Mark it absent, once.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


def _readable(sock: socket.socket | None) -> bool:
    """True when an idle pooled socket has data or EOF waiting: the server closed it."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's stream, with the socket looked up once rather than on every pool check."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(*args, **kwargs))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context (trust store loaded once) for every Fetcher of the process: building
    one per Fetcher fragmented the heap of `radar schedule` by ~0.3 MB a run, never returned."""
    return httpx.create_ssl_context()


def pooled_transport() -> httpx.AsyncHTTPTransport:
    """httpx's transport, with httpcore's idle-connection check made cheap.

    Before each request httpcore asks every pooled connection whether the server closed it;
    through anyio each answer rebuilt a dict of socket attributes, a quarter of the CPU per
    page with 16 connections. Only a speed-up: if those internals move, nothing is changed.
    """
    transport = httpx.AsyncHTTPTransport(verify=_ssl_context())
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.AsyncNetworkBackend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return transport


class LoopbackTransport(httpx.AsyncBaseTransport):
    """Sends requests for mapped hosts to a loopback server, keeping the Host header.

    Like `curl --resolve`: the demo and the tests serve modelled copies of real sites
    from 127.0.0.1. A host that is not mapped is refused, so nothing leaves the machine.
    """

    def __init__(self, host_map: Mapping[str, str]) -> None:
        self._map = {host.lower(): address for host, address in host_map.items()}
        self._inner = pooled_transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = self._map.get(request.url.host.lower())
        if address is None:
            raise httpx.ConnectError(
                f"{request.url.host} is not served on loopback", request=request
            )
        ip, _, port = address.partition(":")
        target = request.url.copy_with(scheme="http", host=ip, port=int(port))
        loopback = httpx.Request(
            request.method,
            target,
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(loopback)

    async def aclose(self) -> None:
        await self._inner.aclose()
