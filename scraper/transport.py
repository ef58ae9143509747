"""How requests reach servers: httpx's requests carried by aiohttp's connection pool.

scraper.fetch decides what to ask and when (politeness, retries, caps) and speaks httpx's
request and response models; this module only moves the bytes. httpx's own transport
(httpcore, h11, anyio) is pure Python and cost ~1 ms of CPU a request here; aiohttp parses
HTTP in C (llhttp) and pools connections on asyncio directly, for a third of that
(bench/README.md has the figures). Bodies come back undecoded, so httpx still handles
Content-Encoding, and aiohttp's errors are raised as httpx's, so the fetcher sees one
client. TLS is verified against the system's CA store (aiohttp's default context).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import aiohttp
import httpx
import yarl

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

# httpx's default pool size; politeness (scraper.politeness) keeps far fewer per host.
MAX_CONNECTIONS = 100
# A connection's read buffer; aiohttp's default is 256 KiB. Listing and detail pages are
# tens of KB, and every figure in bench/README.md was measured with this size.
READ_CHUNK = 64 * 1024


class _Body(httpx.AsyncByteStream):
    """A response body as aiohttp receives it; closing it frees or drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _translated(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # A body left unread (a size cap, robots.txt's prefix) cannot share its connection.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests over one aiohttp session, created in the running loop."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # Per-host limits are the politeness limiter's job, not the pool's.
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, limit_per_host=0),
                # Stateless: a source's cookies never follow into another request.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                read_bufsize=READ_CHUNK,
            )
            # aiohttp resends a GET at once when its connection drops (RFC 9112 §9.3.1);
            # retries are the fetcher's, after a backoff and in the host's politeness budget.
            self._session._retry_connection = False
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _translated(request):
            response = await self._open().request(
                request.method,
                # Sent as httpx encoded it: yarl would re-quote it (an OECD query's %2F).
                yarl.URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


@contextmanager
def _translated(request: httpx.Request) -> Iterator[None]:
    """aiohttp's and asyncio's errors raised as the httpx errors the fetcher handles."""
    try:
        yield
    except (TimeoutError, aiohttp.ClientError) as error:
        message = f"{type(error).__name__}: {error}"
        raise _httpx_error(error)(message, request=request) from error


def _httpx_error(error: BaseException) -> type[httpx.TransportError]:
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout
    if isinstance(error, TimeoutError):
        return httpx.ReadTimeout
    if isinstance(error, aiohttp.ClientConnectorError):
        return httpx.ConnectError
    if isinstance(error, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol
    if isinstance(error, aiohttp.ClientResponseError | aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError
    return httpx.ReadError


class LoopbackTransport(httpx.AsyncBaseTransport):
    """Sends requests for mapped hosts to a loopback server, keeping the Host header.

    Like `curl --resolve`: the demo and the tests serve modelled copies of real sites
    from 127.0.0.1. A host that is not mapped is refused, so nothing leaves the machine.
    """

    def __init__(self, host_map: Mapping[str, str]) -> None:
        self._map = {host.lower(): address for host, address in host_map.items()}
        self._inner = AiohttpTransport()

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
        response = await self._inner.handle_async_request(loopback)
        response.request = request  # its URL is the page's, not the loopback address
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
