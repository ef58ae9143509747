"""The Fetcher over real HTTP: a FixtureServer on 127.0.0.1 serving a small tree in tmp_path.

Nothing is mocked but the clock's patience: a recording `sleep` is injected into the Fetcher,
so the waits tenacity and the host limiter ask for are asserted without being waited.
Every test checks both what the Fetcher returned and what the server saw.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from radar.errors import (
    DisallowedByRobots,
    FetchError,
    PermanentFetchError,
    TransientFetchError,
)
from radar.fixture_server import Fault, FixtureServer
from scraper.fetch import Fetcher, FetchResult, Validators, parse_retry_after
from scraper.politeness import HostLimiter
from scraper.spec import CrawlerSettings
from scraper.transport import LoopbackTransport

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HOST = "site.test"
OTHER = "other.test"
SNAPSHOT = "live"
SOURCE = "demo-source"
USER_AGENT = "InspirationRadar/0.1 (+https://example.dk/kontakt/)"
PHRASE = "Æblegrød på ø, Malmö och Göteborg"
PAGE_BODY = b"<!doctype html><title>Side</title><h1>Hej fra site.test</h1>\n"
CAP = 2048


def crawler(**overrides: Any) -> CrawlerSettings:
    values: dict[str, Any] = {
        "contact_url": "https://example.dk/kontakt/",
        "host_delay": 0,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "max_attempts": 3,
        "timeout": 5.0,
    }
    values.update(overrides)
    return CrawlerSettings(**values)


class SleepRecorder:
    """Stands in for asyncio.sleep: records each wait and how many requests the server had seen."""

    def __init__(self, server: FixtureServer) -> None:
        self._server = server
        self.waits: list[float] = []
        self.seen: list[int] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.seen.append(len(self._server.requests))
        await asyncio.sleep(0)


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The host directory of site.test; tests add robots.txt and sidecars as they need."""
    host_dir = tmp_path / SNAPSHOT / HOST
    _write(host_dir / "page" / "index.html", PAGE_BODY)
    _write(host_dir / "a" / "index.html", "<h1>a</h1>")
    _write(host_dir / "b" / "index.html", "<h1>b</h1>")
    _write(host_dir / "new" / "index.html", "<h1>Ny adresse</h1>")
    _write(host_dir / "private" / "index.html", "<h1>hemmelig</h1>")
    page = f'<!doctype html><title>Gammel</title><p class="x">{PHRASE} – 5 €</p>'
    _write(host_dir / "legacy.html", page.encode("cp1252"))
    sidecar = {
        "/old/": {"status": 301, "Location": "/new/"},
        "/to-private/": {"status": 301, "Location": "/private/"},
        "/loop/": {"status": 301, "Location": "/loop/"},
        "/legacy.html": {"Content-Type": "text/html"},
    }
    _write(host_dir / "_headers.json", json.dumps(sidecar))
    _write(tmp_path / SNAPSHOT / OTHER / "a" / "index.html", "<h1>other a</h1>")
    return host_dir


@pytest.fixture
def server(site: Path) -> Iterator[FixtureServer]:
    with FixtureServer(site.parents[1], snapshot=SNAPSHOT) as running:
        yield running


@pytest.fixture
def sleeps(server: FixtureServer) -> SleepRecorder:
    return SleepRecorder(server)


def make_fetcher(server: FixtureServer, sleeps: SleepRecorder, **overrides: Any) -> Fetcher:
    host_map = {HOST: server.address, OTHER: server.address}
    return Fetcher(crawler(**overrides), host_map=host_map, sleep=sleeps)


def paths(server: FixtureServer, host: str = HOST) -> list[str]:
    return [r.path for r in server.requests_for(host)]


def statuses(server: FixtureServer, path: str, host: str = HOST) -> list[int]:
    return [r.status for r in server.requests_for(host, path)]


# Plain fetching and conditional GETs


async def test_200_carries_body_final_url_type_validators_and_our_user_agent(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    async with make_fetcher(server, sleeps) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert isinstance(result, FetchResult)
    assert (result.status, result.not_modified) == (200, False)
    assert result.body == PAGE_BODY
    assert result.text == PAGE_BODY.decode()
    assert result.url == result.final_url == f"http://{HOST}/page/"
    assert result.content_type == "text/html; charset=utf-8"
    assert result.validators.etag == f'"{hashlib.sha256(PAGE_BODY).hexdigest()[:16]}"'
    assert result.validators.last_modified is not None
    assert parsedate_to_datetime(result.validators.last_modified).year in range(2020, 2025)
    assert result.elapsed >= 0

    assert paths(server) == ["/robots.txt", "/page/"]
    for request in server.requests:
        assert request.method == "GET"
        assert request.headers["host"] == HOST
        assert request.headers["user-agent"] == USER_AGENT
        assert "python-httpx" not in request.headers["user-agent"]
        assert "if-none-match" not in request.headers
    assert server.requests[-1].headers["accept"].startswith("text/html")
    assert sleeps.waits == []


async def test_conditional_get_sends_validators_and_gets_304_without_body(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    url = f"http://{HOST}/page/"
    async with make_fetcher(server, sleeps) as fetcher:
        first = await fetcher.fetch(url, source=SOURCE)
        second = await fetcher.fetch(url, source=SOURCE, validators=first.validators)
        by_date = await fetcher.fetch(
            url, source=SOURCE, validators=Validators(last_modified=first.validators.last_modified)
        )
        _write(site / "page" / "index.html", "<h1>rettet</h1>")
        changed = await fetcher.fetch(url, source=SOURCE, validators=first.validators)

    assert (second.status, second.not_modified, second.body) == (304, True, b"")
    assert second.validators == first.validators
    assert second.final_url == url
    # Only If-Modified-Since sent; the 304 still names the ETag, so both are carried.
    assert (by_date.status, by_date.not_modified) == (304, True)
    assert by_date.validators == first.validators
    # Content changed: a full 200 with fresh validators.
    assert (changed.status, changed.body) == (200, b"<h1>rettet</h1>")
    assert changed.validators.etag not in (None, first.validators.etag)

    pages = server.requests_for(HOST, "/page/")
    assert [r.status for r in pages] == [200, 304, 304, 200]
    assert "if-none-match" not in pages[0].headers
    assert pages[1].headers["if-none-match"] == first.validators.etag
    assert pages[1].headers["if-modified-since"] == first.validators.last_modified
    assert "if-none-match" not in pages[2].headers
    assert pages[2].headers["if-modified-since"] == first.validators.last_modified
    assert pages[1].bytes_sent == pages[2].bytes_sent == 0


# Retries: Retry-After, backoff, persistent failure, permanent failure


async def test_429_with_retry_after_is_waited_then_retried(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    server.script(HOST, "/page/", [Fault(429, {"Retry-After": "7"})])
    async with make_fetcher(server, sleeps) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert (result.status, result.body) == (200, PAGE_BODY)
    assert statuses(server, "/page/") == [429, 200]
    assert 7 in sleeps.waits
    assert all(0 < wait <= 7 for wait in sleeps.waits)
    # Every wait came after the 429 and before the retry.
    assert set(sleeps.seen) == {2}


async def test_retry_after_is_capped_by_max_retry_after(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    server.script(HOST, "/page/", [Fault(429, {"Retry-After": "9999"})])
    async with make_fetcher(server, sleeps, max_retry_after=30) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert result.status == 200
    assert statuses(server, "/page/") == [429, 200]
    assert 30 in sleeps.waits
    assert max(sleeps.waits) <= 30


async def test_retry_after_as_http_date_is_waited(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    when = formatdate(time.time() + 20, usegmt=True)
    server.script(HOST, "/page/", [Fault(503, {"Retry-After": when})])
    async with make_fetcher(server, sleeps) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert result.status == 200
    assert statuses(server, "/page/") == [503, 200]
    assert 15 < max(sleeps.waits) <= 20


NOW = 784_111_777.0  # Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("Sun, 06 Nov 1994 08:50:07 GMT", 30.0),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:50:07 GMT", 30.0),  # obsolete RFC 850 form
        ("Sun, 06 Nov 1994 08:00:00 GMT", 0.0),  # in the past: no wait, never negative
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.fixture
def copenhagen_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("copenhagen_time")
def test_parse_retry_after_asctime_form_is_gmt_whatever_the_local_zone() -> None:
    assert parse_retry_after("Sun Nov  6 08:50:07 1994", now=NOW) == 30.0


async def test_500_then_200_is_retried_after_a_backoff_wait(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    server.script(HOST, "/page/", [Fault(500, body=b"<h1>oops</h1>")])
    async with make_fetcher(server, sleeps) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert (result.status, result.body) == (200, PAGE_BODY)
    assert statuses(server, "/page/") == [500, 200]
    assert len(sleeps.waits) == 1
    assert 0.01 <= sleeps.waits[0] <= 0.05  # backoff_initial .. backoff_max


async def test_persistent_503_gives_up_after_max_attempts(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    url = f"http://{HOST}/page/"
    server.script(HOST, "/page/", [Fault(503)] * 5)
    async with make_fetcher(server, sleeps, max_attempts=3) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            await fetcher.fetch(url, source=SOURCE)

    error = caught.value
    assert (error.source, error.url, error.status) == (SOURCE, url, 503)
    assert statuses(server, "/page/") == [503, 503, 503]
    assert len(sleeps.waits) == 2  # between the attempts, none after the last
    assert all(0.01 <= wait <= 0.05 for wait in sleeps.waits)


async def test_404_is_permanent_and_not_retried(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    url = f"http://{HOST}/missing/"
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(PermanentFetchError) as caught:
            await fetcher.fetch(url, source=SOURCE)

    error = caught.value
    assert not isinstance(error, TransientFetchError | DisallowedByRobots)
    assert (error.source, error.url, error.status) == (SOURCE, url, 404)
    assert statuses(server, "/missing/") == [404]
    assert sleeps.waits == []


# Network failures


async def test_connection_reset_is_retried(server: FixtureServer, sleeps: SleepRecorder) -> None:
    server.script(HOST, "/page/", [Fault(reset=True)])
    async with make_fetcher(server, sleeps) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert (result.status, result.body) == (200, PAGE_BODY)
    assert statuses(server, "/page/") == [0, 200]  # 0: dropped without a response
    assert len(sleeps.waits) == 1


async def test_timeouts_are_retried_then_reported_as_transient(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    url = f"http://{HOST}/page/"
    server.script(HOST, "/page/", [Fault(200, body=b"late", delay=2)] * 3)
    started = time.monotonic()
    async with make_fetcher(server, sleeps, timeout=0.3, max_attempts=3) as fetcher:
        with pytest.raises(TransientFetchError) as caught:
            await fetcher.fetch(url, source=SOURCE)
    elapsed = time.monotonic() - started
    server.stop()  # cuts the scripted delays short, so every request is in the log

    assert (caught.value.source, caught.value.url, caught.value.status) == (SOURCE, url, None)
    assert "timed out" in str(caught.value)
    assert elapsed < 1.9  # three 0.3 s timeouts, never one 2 s answer
    # Three attempts, two waits between them. The server may not log all three: on a loaded
    # machine it can be slower to read a request than the client's 0.3 s to give up on it.
    assert len(sleeps.waits) == 2
    assert 1 <= len(server.requests_for(HOST, "/page/")) <= 3


# Response size cap


async def test_declared_content_length_over_the_cap_is_refused(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    big = b"x" * 100_000
    server.script(HOST, "/page/", [Fault(200, {"Content-Length": str(len(big))}, big)])
    async with make_fetcher(server, sleeps, max_response_bytes=CAP) as fetcher:
        with pytest.raises(PermanentFetchError, match="larger than 2048 bytes"):
            await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert statuses(server, "/page/") == [200]  # not retried
    assert sleeps.waits == []


async def test_oversized_content_length_is_refused_without_reading_the_body(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    # The server promises 100 kB and sends 10 bytes, then closes. Reading the body would fail
    # as a truncated (transient) response; refusing on the header alone is permanent.
    server.script(HOST, "/page/", [Fault(200, {"Content-Length": "100000"}, b"0123456789")])
    async with make_fetcher(server, sleeps, max_response_bytes=CAP) as fetcher:
        with pytest.raises(PermanentFetchError, match="larger than"):
            await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert statuses(server, "/page/") == [200]


def _chunked(payload: bytes, *, chunk: int = 1024, terminated: bool = True) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(piece), piece)
        for piece in (payload[i : i + chunk] for i in range(0, len(payload), chunk))
    ]
    return b"".join(parts) + (b"0\r\n\r\n" if terminated else b"")


async def test_streamed_body_without_a_usable_length_is_cut_at_the_cap(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    # Sent chunked, the 100 kB are unknown until streamed. The chunked body is never
    # terminated, so reading it whole would end in a protocol error (transient); stopping
    # at the cap is permanent.
    body = _chunked(b"y" * 100_000, terminated=False)
    headers = {"Transfer-Encoding": "chunked"}
    server.script(HOST, "/page/", [Fault(200, headers, body)])
    async with make_fetcher(server, sleeps, max_response_bytes=CAP) as fetcher:
        with pytest.raises(PermanentFetchError, match="larger than 2048 bytes"):
            await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert statuses(server, "/page/") == [200]
    assert sleeps.waits == []


async def test_a_reply_framed_both_by_length_and_chunks_is_refused(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    # Content-Length beside Transfer-Encoding is how responses are smuggled or split
    # (RFC 9112 6.3): never read as a page, retried as a broken answer.
    body = _chunked(b"<h1>Smuggled</h1>", terminated=True)
    headers = {"Transfer-Encoding": "chunked", "Content-Length": "5"}
    server.script(HOST, "/page/", [Fault(200, headers, body)] * 2)
    async with make_fetcher(server, sleeps, max_attempts=2) as fetcher:
        with pytest.raises(TransientFetchError, match="connection failed"):
            await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert statuses(server, "/page/") == [200, 200]
    assert len(sleeps.waits) == 1


async def test_body_at_the_cap_is_accepted(server: FixtureServer, sleeps: SleepRecorder) -> None:
    exact = b"z" * CAP
    server.script(HOST, "/page/", [Fault(200, body=exact)])  # Content-Length: 2048 added
    async with make_fetcher(server, sleeps, max_response_bytes=CAP) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert result.body == exact


# robots.txt


async def test_robots_disallow_blocks_the_page_without_requesting_it(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    _write(site / "robots.txt", "User-agent: *\nDisallow: /private/\n")
    url = f"http://{HOST}/private/"
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(DisallowedByRobots) as caught:
            await fetcher.fetch(url, source=SOURCE)
        allowed = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert isinstance(caught.value, PermanentFetchError)
    assert (caught.value.source, caught.value.url) == (SOURCE, url)
    assert allowed.status == 200
    assert paths(server) == ["/robots.txt", "/page/"]


async def test_a_redirected_robots_txt_is_followed_to_its_rules(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    # RFC 9309 2.3.1.2: robots.txt redirects are followed (here to another host, as an
    # http → https or www move would), and the rules found there apply.
    _write(
        site / "_headers.json",
        json.dumps({"/robots.txt": {"status": 301, "Location": f"http://{OTHER}/rules.txt"}}),
    )
    _write(site.parent / OTHER / "rules.txt", "User-agent: *\nDisallow: /private/\n")
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(DisallowedByRobots):
            await fetcher.fetch(f"http://{HOST}/private/", source=SOURCE)
        allowed = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert allowed.status == 200
    assert [(r.host, r.path, r.status) for r in server.requests] == [
        (HOST, "/robots.txt", 301),
        (OTHER, "/rules.txt", 200),
        (HOST, "/page/", 200),
    ]


async def test_a_robots_txt_redirecting_in_a_loop_is_unreachable(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    loop = {"/robots.txt": {"status": 302, "Location": "/robots.txt?again"}}
    _write(site / "_headers.json", json.dumps(loop))
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(DisallowedByRobots):
            await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert len(server.requests) == 6  # the first answer and five redirects, no more
    assert paths(server) == ["/robots.txt"] * len(server.requests)


async def test_robots_group_for_our_product_token_applies(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    robots = "User-agent: *\nAllow: /\n\nUser-agent: InspirationRadar\nDisallow: /\n"
    _write(site / "robots.txt", robots)
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(DisallowedByRobots):
            await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert paths(server) == ["/robots.txt"]


async def test_robots_404_allows_everything(server: FixtureServer, sleeps: SleepRecorder) -> None:
    async with make_fetcher(server, sleeps) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/private/", source=SOURCE)

    assert result.status == 200
    assert statuses(server, "/robots.txt") == [404]
    assert paths(server) == ["/robots.txt", "/private/"]


@pytest.mark.parametrize("fault", [Fault(500), Fault(503), Fault(reset=True)], ids=str)
async def test_robots_server_error_or_no_answer_disallows_everything(
    server: FixtureServer, sleeps: SleepRecorder, site: Path, fault: Fault
) -> None:
    _write(site / "robots.txt", "User-agent: *\nAllow: /\n")
    server.script(HOST, "/robots.txt", [fault])
    async with make_fetcher(server, sleeps) as fetcher:
        for path in ("/page/", "/a/"):
            with pytest.raises(DisallowedByRobots):
                await fetcher.fetch(f"http://{HOST}{path}", source=SOURCE)

    assert paths(server) == ["/robots.txt"]  # asked once, the pages never


async def test_robots_is_fetched_once_for_several_pages(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    _write(site / "robots.txt", "User-agent: *\nDisallow: /private/\n")
    async with make_fetcher(server, sleeps) as fetcher:
        for path in ("/page/", "/a/", "/b/"):
            await fetcher.fetch(f"http://{HOST}{path}", source=SOURCE)
        await fetcher.fetch(f"http://{OTHER}/a/", source=SOURCE)

    assert paths(server) == ["/robots.txt", "/page/", "/a/", "/b/"]
    assert paths(server, OTHER) == ["/robots.txt", "/a/"]


async def test_robots_is_fetched_once_for_concurrent_pages(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    _write(site / "robots.txt", "User-agent: *\nDisallow: /private/\n")
    async with make_fetcher(server, sleeps) as fetcher:
        results = await asyncio.gather(
            *(fetcher.fetch(f"http://{HOST}{p}", source=SOURCE) for p in ("/page/", "/a/", "/b/"))
        )

    assert [r.status for r in results] == [200, 200, 200]
    assert statuses(server, "/robots.txt") == [200]


async def test_robots_crawl_delay_spaces_requests(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    _write(site / "robots.txt", "User-agent: *\nCrawl-delay: 5\n")
    async with make_fetcher(server, sleeps, host_delay=0) as fetcher:
        await fetcher.fetch(f"http://{HOST}/a/", source=SOURCE)
        await fetcher.fetch(f"http://{HOST}/b/", source=SOURCE)

    assert paths(server) == ["/robots.txt", "/a/", "/b/"]
    assert len(sleeps.waits) == 1
    assert 4.9 < sleeps.waits[0] <= 5
    assert sleeps.seen == [2]  # between /a/ and /b/


async def test_redirect_into_a_disallowed_path_is_not_followed(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    _write(site / "robots.txt", "User-agent: *\nDisallow: /private/\n")
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(DisallowedByRobots):
            await fetcher.fetch(f"http://{HOST}/to-private/", source=SOURCE)

    assert "/private/" not in paths(server)


# Per-host politeness


async def test_host_delay_spaces_requests_to_one_host(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    async with make_fetcher(server, sleeps, host_delay=3) as fetcher:
        await fetcher.fetch(f"http://{HOST}/a/", source=SOURCE)
        await fetcher.fetch(f"http://{HOST}/b/", source=SOURCE)

    assert paths(server) == ["/robots.txt", "/a/", "/b/"]
    # robots.txt counts as a request too: a pause before /a/ and another before /b/.
    assert sleeps.seen == [1, 2]
    assert all(2.9 < wait <= 3 for wait in sleeps.waits)


async def test_different_hosts_do_not_wait_for_each_other(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    async with make_fetcher(server, sleeps, host_delay=3) as fetcher:
        await fetcher.fetch(f"http://{HOST}/a/", source=SOURCE)
        await fetcher.fetch(f"http://{OTHER}/a/", source=SOURCE)

    assert [(r.host, r.path) for r in server.requests] == [
        (HOST, "/robots.txt"),
        (HOST, "/a/"),
        (OTHER, "/robots.txt"),
        (OTHER, "/a/"),
    ]
    # Paused only after each host's own robots.txt, never before other.test's first request.
    assert sleeps.seen == [1, 3]
    assert all(2.9 < wait <= 3 for wait in sleeps.waits)


# Loopback transport and redirects


async def test_loopback_transport_refuses_unmapped_hosts(server: FixtureServer) -> None:
    transport = LoopbackTransport({HOST: server.address})
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="not served on loopback"):
            await client.get("http://elsewhere.test/")
        mapped = await client.get(f"http://{HOST.upper()}/page/")

    assert mapped.status_code == 200
    assert [(r.host, r.path) for r in server.requests] == [(HOST, "/page/")]


async def test_fetcher_never_reaches_an_unmapped_host(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    url = "http://elsewhere.test/page/"
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(url, source=SOURCE)

    assert (caught.value.source, caught.value.url) == (SOURCE, url)
    assert server.requests == []


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_redirect_is_followed_keeping_the_real_host(
    server: FixtureServer, sleeps: SleepRecorder, scheme: str
) -> None:
    async with make_fetcher(server, sleeps) as fetcher:
        result = await fetcher.fetch(f"{scheme}://{HOST}/old/", source=SOURCE)

    assert result.status == 200
    assert result.url == f"{scheme}://{HOST}/old/"
    assert result.final_url == f"{scheme}://{HOST}/new/"
    assert result.body == b"<h1>Ny adresse</h1>"
    assert [(r.path, r.status) for r in server.requests] == [
        ("/robots.txt", 404),
        ("/old/", 301),
        ("/new/", 200),
    ]
    assert {r.headers["host"] for r in server.requests} == {HOST}


async def test_redirect_loop_is_caught_without_refetching(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(PermanentFetchError, match="loops"):
            await fetcher.fetch(f"http://{HOST}/loop/", source=SOURCE)

    # A redirect back to a URL already visited is caught at once, not after five hops.
    assert statuses(server, "/loop/") == [301]
    assert sleeps.waits == []


# Decoding end to end


async def test_windows_1252_page_without_charset_is_decoded(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    async with make_fetcher(server, sleeps) as fetcher:
        result = await fetcher.fetch(f"http://{HOST}/legacy.html", source=SOURCE)

    assert result.content_type == "text/html"
    assert PHRASE.encode("cp1252") in result.body
    assert f"{PHRASE} – 5 €" in result.text
    assert "\ufffd" not in result.text
    assert paths(server) == ["/robots.txt", "/legacy.html"]


async def test_a_redirect_out_of_the_allowed_domains_is_not_followed(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    _write(
        site / "_headers.json", '{"/away/": {"status": 302, "Location": "http://other.test/a/"}}'
    )
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(PermanentFetchError, match="leaves the source's domains"):
            await fetcher.fetch(f"http://{HOST}/away/", source=SOURCE, allowed=(HOST,))

    assert paths(server, OTHER) == []


async def test_a_huge_robots_txt_is_read_only_as_far_as_rfc_9309_asks(
    server: FixtureServer, sleeps: SleepRecorder, site: Path
) -> None:
    rules = "User-agent: *\nDisallow: /private/\n"
    _write(site / "robots.txt", rules + "# padding\n" * 200_000)  # ~2 MB
    async with make_fetcher(server, sleeps) as fetcher:
        with pytest.raises(DisallowedByRobots):
            await fetcher.fetch(f"http://{HOST}/private/x", source=SOURCE)
        result = await fetcher.fetch(f"http://{HOST}/page/", source=SOURCE)

    assert result.status == 200


async def test_fetchers_sharing_a_limiter_share_each_hosts_budget(
    server: FixtureServer, sleeps: SleepRecorder
) -> None:
    # radar schedule makes a fetcher per run but one limiter for its life: two sources on
    # one host, run one after the other, still keep the host's pause between requests.
    shared = HostLimiter(delay=3.0, concurrency=1, sleep=sleeps)
    host_map = {HOST: server.address}
    for path in ("/a/", "/b/"):
        async with Fetcher(crawler(), host_map=host_map, sleep=sleeps, limiter=shared) as fetcher:
            await fetcher.fetch(f"http://{HOST}{path}", source=SOURCE)

    # robots.txt and /a/, then robots.txt and /b/: every start after the first waits its turn,
    # the second fetcher's too.
    assert paths(server) == ["/robots.txt", "/a/", "/robots.txt", "/b/"]
    assert len(sleeps.waits) == 3 and all(2.5 < wait <= 3.0 for wait in sleeps.waits)
