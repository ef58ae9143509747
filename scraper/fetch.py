"""Fetching pages politely. Every HTTP request in the project is made in this module and
carried by scraper.transport.

One `Fetcher` per process run: it holds the HTTP client, the per-host limiter and the
robots.txt cache. `fetch` obeys robots.txt, waits its turn for the host, sends conditional
headers, retries transient failures (honouring Retry-After), caps the body size, and
translates httpx's exceptions into ours.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from radar.errors import (
    DisallowedByRobots,
    LeavesSource,
    PermanentFetchError,
    TransientFetchError,
)
from scraper.politeness import HostLimiter, Limiter
from scraper.response import FetchResult, Validators, parse_retry_after
from scraper.robots import MAX_ROBOTS_BYTES, RobotsAnswer, RobotsCache
from scraper.transport import AiohttpTransport, LoopbackTransport
from scraper.urls import absolute_url, host_of, is_allowed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Mapping

    from tenacity import RetryCallState

    from scraper.spec import CrawlerSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Called with (url, status, headers, body) of every answer: `radar snapshot` saves them.
ResponseHook = Callable[[str, int, dict[str, str], bytes], None]
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class _Redirect:
    """A 3xx answer: where it points, still to be checked before it is followed."""

    location: str


ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# What httpx.Response decodes whatever optional packages are installed.
ACCEPT_ENCODING = "gzip, deflate"


class Fetcher:
    """The one door to the web: polite, patient, bounded. Use as `async with Fetcher(...)`."""

    def __init__(
        self,
        settings: CrawlerSettings,
        *,
        host_map: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_response: ResponseHook | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._on_response = on_response
        # A long-lived process (radar schedule) passes one limiter to every fetcher, so all
        # sources on one host share its politeness budget whenever they run.
        self._limiter = limiter or HostLimiter(
            delay=settings.host_delay, concurrency=settings.host_concurrency, sleep=sleep
        )
        self._robots = RobotsCache(self._fetch_robots)
        # Jitter in proportion to the base wait, so many clients never retry in lockstep.
        self._backoff = wait_exponential_jitter(
            multiplier=settings.backoff_initial,
            jitter=settings.backoff_initial,
            max=settings.backoff_max,
        )
        # Requests go to the transport as httpx models, without httpx.AsyncClient: its cookie
        # jar and redirect handling are not wanted here (redirects are checked hop by hop
        # below), and it cost as much CPU per request as the transport itself.
        self._transport: httpx.AsyncBaseTransport = (
            LoopbackTransport(host_map) if host_map is not None else AiohttpTransport()
        )
        self._headers = {
            "User-Agent": settings.user_agent_header,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._extensions = {"timeout": httpx.Timeout(settings.timeout).as_dict()}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._transport.aclose()

    @property
    def agent(self) -> str:
        return self.settings.user_agent

    async def fetch(
        self,
        url: str,
        *,
        source: str,
        validators: Validators | None = None,
        allowed: tuple[str, ...] | None = None,
    ) -> FetchResult:
        """GET `url` for `source`; raise a FetchError subclass when it cannot be had.

        Redirects are followed here, hop by hop, so every hop obeys robots.txt and the
        host's politeness, and (when `allowed` is given) never leaves the allowed domains.
        """
        current, seen = url, {url}
        for _ in range(MAX_REDIRECTS + 1):
            answer = await self._polite_get(current, source=source, validators=validators)
            if isinstance(answer, FetchResult):
                return replace(answer, url=url)
            current = self._next_hop(current, answer, source=source, allowed=allowed, seen=seen)
            validators = None  # they belong to the first URL, not to where it points
        raise PermanentFetchError("too many redirects", source=source, url=url)

    def _next_hop(
        self,
        current: str,
        location: _Redirect,
        *,
        source: str,
        allowed: tuple[str, ...] | None,
        seen: set[str],
    ) -> str:
        target = absolute_url(current, location.location)
        if target is None or target in seen:
            raise PermanentFetchError(
                f"redirect to {location.location!r} is unusable or loops",
                source=source,
                url=current,
            )
        if allowed is not None and not is_allowed(target, allowed):
            raise LeavesSource(
                f"redirect leaves the source's domains: {target}", source=source, url=current
            )
        seen.add(target)
        return target

    async def _polite_get(
        self, url: str, *, source: str, validators: Validators | None
    ) -> FetchResult | _Redirect:
        host = host_of(url)
        rules = await self._robots.rules_for(url)
        if not rules.allows(url, self.agent):
            raise DisallowedByRobots(rules.reason, source=source, url=url)
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
    ) -> FetchResult | _Redirect:
        headers = validators.headers() if validators else {}
        started = time.monotonic()
        try:
            async with self._get(url, headers) as response:
                location = response.headers.get("Location")
                if response.status_code in REDIRECT_STATUSES and location:
                    self._record(url, response, b"")
                    return _Redirect(location)
                self._check_status(response, source=source, url=url)
                body = await self._read_capped(response, source=source, url=url)
                self._record(url, response, body)
        except httpx.TimeoutException as exc:
            raise TransientFetchError(f"timed out: {exc!r}", source=source, url=url) from exc
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
        try:
            async with self._limiter.slot(host_of(robots_url)):
                status, body = await self._robots_body(robots_url)
        except httpx.HTTPError:
            return RobotsAnswer(status=None, text=None)
        return RobotsAnswer(status=status, text=body.decode("utf-8", "replace"))

    async def _robots_body(self, robots_url: str) -> tuple[int, bytes]:
        """robots.txt's status and body, after up to five redirects to any host (RFC 9309
        §2.3.1.2); more, or an unusable one, is an unreachable robots.txt."""
        url = robots_url
        for _ in range(MAX_REDIRECTS + 1):
            async with self._get(url) as response:
                location = response.headers.get("Location")
                if response.status_code not in REDIRECT_STATUSES or not location:
                    body = await _read_prefix(response, MAX_ROBOTS_BYTES)
                    self._record(robots_url, response, body)
                    return response.status_code, body
            target = absolute_url(url, location)
            if target is None:
                break
            url = target
        raise httpx.TooManyRedirects(
            "robots.txt redirects too often or nowhere", request=response.request
        )

    @asynccontextmanager
    async def _get(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """One GET through the transport; the response is closed when the block ends."""
        request = httpx.Request(
            "GET",
            url,
            headers={**self._headers, **headers} if headers else self._headers,
            extensions=self._extensions,
        )
        response = await self._transport.handle_async_request(request)
        try:
            yield response
        finally:
            await response.aclose()

    def _record(self, url: str, response: httpx.Response, body: bytes) -> None:
        if self._on_response is not None:
            self._on_response(url, response.status_code, dict(response.headers), body)


async def _read_prefix(response: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of the body; the rest is never read (RFC 9309 asks for 500 KiB)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)


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
