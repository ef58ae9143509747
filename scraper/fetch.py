"""Fetching pages politely. Every httpx call in the project lives in this module.

One `Fetcher` per process run: it holds the HTTP client, the per-host limiter and the
robots.txt cache. `fetch` obeys robots.txt, waits its turn for the host, sends conditional
headers, retries transient failures (honouring Retry-After), caps the body size, and
translates httpx's exceptions into ours.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from radar.errors import DisallowedByRobots, PermanentFetchError, TransientFetchError
from scraper.decode import decode_body
from scraper.politeness import HostLimiter
from scraper.robots import RobotsAnswer, RobotsCache
from scraper.urls import host_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from tenacity import RetryCallState

    from scraper.spec import CrawlerSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server told us to send back for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One successful answer: 200 with a body, or 304 (not modified) without one."""

    url: str
    final_url: str
    status: int
    body: bytes
    content_type: str | None
    validators: Validators
    elapsed: float

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def text(self) -> str:
        return decode_body(self.body, self.content_type)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, in either its seconds or HTTP-date form."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class LoopbackTransport(httpx.AsyncBaseTransport):
    """Sends requests for mapped hosts to a loopback server, keeping the Host header.

    Like `curl --resolve`: the demo and the tests serve modelled copies of real sites
    from 127.0.0.1. A host that is not mapped is refused, so nothing leaves the machine.
    """

    def __init__(self, host_map: Mapping[str, str]) -> None:
        self._map = {host.lower(): address for host, address in host_map.items()}
        self._inner = httpx.AsyncHTTPTransport()

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


class Fetcher:
    """The one door to the web: polite, patient, bounded. Use as `async with Fetcher(...)`."""

    def __init__(
        self,
        settings: CrawlerSettings,
        *,
        host_map: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._limiter = HostLimiter(
            delay=settings.host_delay, concurrency=settings.host_concurrency, sleep=sleep
        )
        self._robots = RobotsCache(self._fetch_robots)
        # Jitter in proportion to the base wait, so many clients never retry in lockstep.
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial,
            jitter=settings.backoff_initial,
            max=settings.backoff_max,
        )
        self._client = httpx.AsyncClient(
            transport=LoopbackTransport(host_map) if host_map is not None else None,
            headers={"User-Agent": settings.user_agent_header, "Accept": ACCEPT},
            timeout=settings.timeout,
            follow_redirects=True,
            max_redirects=5,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    @property
    def agent(self) -> str:
        return self.settings.user_agent

    async def fetch(
        self, url: str, *, source: str, validators: Validators | None = None
    ) -> FetchResult:
        """GET `url` for `source`; raise a FetchError subclass when it cannot be had."""
        host = host_of(url)
        rules = await self._robots.rules_for(url)
        if not rules.allows(url, self.agent):
            raise DisallowedByRobots("robots.txt disallows this URL", source=source, url=url)
        delay = rules.crawl_delay(self.agent)
        if delay:
            self._limiter.set_delay(host, delay)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientFetchError),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                async with self._limiter.slot(host):
                    return await self._get_once(url, source=source, validators=validators)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientFetchError) and error.retry_after is not None:
            return min(error.retry_after, self.settings.max_retry_after)
        return float(self._backoff(state))

    async def _get_once(
        self, url: str, *, source: str, validators: Validators | None
    ) -> FetchResult:
        headers = validators.headers() if validators else {}
        started = time.monotonic()
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                self._check_status(response, source=source, url=url)
                body = await self._read_capped(response, source=source, url=url)
        except httpx.TimeoutException as exc:
            raise TransientFetchError(f"timed out: {exc!r}", source=source, url=url) from exc
        except httpx.TooManyRedirects as exc:
            raise PermanentFetchError("too many redirects", source=source, url=url) from exc
        except httpx.TransportError as exc:
            raise TransientFetchError(
                f"connection failed: {exc!r}", source=source, url=url
            ) from exc
        return FetchResult(
            url=url,
            final_url=str(response.url),
            status=response.status_code,
            body=body,
            content_type=response.headers.get("Content-Type"),
            validators=_validators_of(response, fallback=validators),
            elapsed=time.monotonic() - started,
        )

    def _check_status(self, response: httpx.Response, *, source: str, url: str) -> None:
        status = response.status_code
        if status in RETRY_STATUSES or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and status in (429, 503):
                self._limiter.cool_down(
                    host_of(url), min(retry_after, self.settings.max_retry_after)
                )
            raise TransientFetchError(
                "server busy or failing",
                source=source,
                url=url,
                status=status,
                retry_after=retry_after,
            )
        if status != 304 and not 200 <= status < 300:
            raise PermanentFetchError("unexpected status", source=source, url=url, status=status)

    async def _read_capped(self, response: httpx.Response, *, source: str, url: str) -> bytes:
        cap = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise PermanentFetchError(f"response larger than {cap} bytes", source=source, url=url)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise PermanentFetchError(
                    f"response larger than {cap} bytes", source=source, url=url
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def _fetch_robots(self, robots_url: str) -> RobotsAnswer:
        host = host_of(robots_url)
        try:
            async with self._limiter.slot(host):
                response = await self._client.get(robots_url)
        except httpx.HTTPError:
            return RobotsAnswer(status=None, text=None)
        return RobotsAnswer(status=response.status_code, text=response.text)


def _validators_of(response: httpx.Response, *, fallback: Validators | None) -> Validators:
    # A 304 may omit the validators; the ones we sent are still the right ones.
    if response.status_code == 304 and fallback is not None:
        return Validators(
            etag=response.headers.get("ETag") or fallback.etag,
            last_modified=response.headers.get("Last-Modified") or fallback.last_modified,
        )
    return Validators(
        etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified")
    )
