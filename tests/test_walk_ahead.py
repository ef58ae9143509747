"""The walk sends the conditional requests of the pages its memos name before their turn.

The CfB archive (nine pages linked by "next") is read once for its memos, then again with
them: every page answers 304, and the requests go out ahead of the walk, within the page
limit and the source's domains, and are cancelled when the walk does not reach them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from typing import TYPE_CHECKING, Any

from radar.errors import LeavesSource
from radar.fixture_server import Fault, FixtureServer
from scraper.adapters import adapter_for
from scraper.crawl import Crawl, PageMemo
from scraper.fetch import Fetcher
from scraper.response import Validators
from tests.conftest import cfb_archive, fast_crawler

if TYPE_CHECKING:
    import pytest

    from scraper.adapters.html import HtmlSpec
    from scraper.response import FetchResult

HOST = "centerforborgerdialog.dk"
ARCHIVE = "/category/inspiration-praksis/"


async def crawl(
    server: FixtureServer, spec: HtmlSpec, memos: dict[str, PageMemo] | None = None
) -> Crawl:
    async with Fetcher(fast_crawler(), host_map={HOST: server.address}) as fetcher:
        return await adapter_for("html").crawl(spec, fetcher=fetcher, memos=memos or {})


def pages_asked(server: FixtureServer) -> list[str]:
    return [r.path for r in server.requests if r.path.startswith(ARCHIVE)]


async def first_reading(server: FixtureServer) -> tuple[Crawl, dict[str, PageMemo]]:
    first = await crawl(server, cfb_archive())
    assert first.complete and first.pages_fetched == 9
    server.clear_requests()
    return first, {memo.url: memo for memo in first.memos}


async def test_an_unchanged_listing_is_asked_ahead_and_read_in_order(
    fixture_sites: FixtureServer,
) -> None:
    first, memos = await first_reading(fixture_sites)
    # The second page answers late: the pages after it are asked meanwhile.
    second = f"{ARCHIVE}page/2/"
    fixture_sites.script(HOST, second, [Fault(status=304, delay=1.0)])

    again = await crawl(fixture_sites, cfb_archive(), memos)

    assert again.complete and again.pages_not_modified == 9 and again.pages_fetched == 0
    assert [memo.url for memo in again.memos] == [memo.url for memo in first.memos]
    assert again.carried_keys == {item.key for item in first.items}
    asked = {r.path: r.time for r in fixture_sites.requests if r.path.startswith(ARCHIVE)}
    assert len(asked) == 9 and len(pages_asked(fixture_sites)) == 9  # each page once
    assert asked[f"{ARCHIVE}page/3/"] < asked[second] + 0.8


async def test_no_page_past_the_page_limit_is_asked(fixture_sites: FixtureServer) -> None:
    _, memos = await first_reading(fixture_sites)

    again = await crawl(fixture_sites, cfb_archive().model_copy(update={"max_pages": 3}), memos)

    assert not again.complete and again.pages_not_modified == 3
    # Sent ahead, the requests may reach the server in any order.
    assert sorted(pages_asked(fixture_sites)) == [
        ARCHIVE,
        f"{ARCHIVE}page/2/",
        f"{ARCHIVE}page/3/",
    ]


async def test_requests_the_walk_does_not_reach_are_dropped_quietly(
    fixture_sites: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The memos say the listing went on elsewhere (an old page that now answers 404), and
    # the first page has changed, so the walk follows its new link, not the memos.
    first, memos = await first_reading(fixture_sites)
    gone = f"https://{HOST}{ARCHIVE}old/"
    start = memos[f"https://{HOST}{ARCHIVE}"]
    memos[start.url] = dataclasses.replace(start, validators=Validators(), next_url=gone)
    memos[gone] = PageMemo(url=gone, validators=Validators(etag='"x"'), item_keys=(), next_url=None)

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        again = await crawl(fixture_sites, cfb_archive(), memos)
        gc.collect()

    assert again.complete and again.error is None
    assert again.pages_fetched == 1 and again.pages_not_modified == 8
    assert {memo.url for memo in again.memos} == {memo.url for memo in first.memos}
    assert pages_asked(fixture_sites).count(f"{ARCHIVE}old/") <= 1
    assert "never retrieved" not in caplog.text


async def test_a_failing_page_ends_the_walk_and_cancels_what_was_sent_ahead(
    fixture_sites: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    _, memos = await first_reading(fixture_sites)
    fixture_sites.script(HOST, f"{ARCHIVE}page/3/", [Fault(status=500)] * 3)
    # A slow page beyond it: its request is still in flight when the walk ends.
    fixture_sites.script(HOST, f"{ARCHIVE}page/5/", [Fault(status=304, delay=5.0)])

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        again = await asyncio.wait_for(crawl(fixture_sites, cfb_archive(), memos), 4.0)
        gc.collect()

    assert not again.complete and "500" in str(again.error)
    assert again.pages_not_modified == 2 and [m.url.rsplit("/", 2)[-2] for m in again.memos] == [
        "inspiration-praksis",
        "2",
    ]
    assert "never retrieved" not in caplog.text
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_memos_never_lead_beyond_the_sources_domains(fixture_sites: FixtureServer) -> None:
    _, memos = await first_reading(fixture_sites)
    elsewhere = "https://elsewhere.example/page/3/"
    second = memos[f"https://{HOST}{ARCHIVE}page/2/"]
    memos[second.url] = dataclasses.replace(second, next_url=elsewhere)
    memos[elsewhere] = PageMemo(url=elsewhere, validators=Validators(), item_keys=(), next_url=None)
    asked: list[str] = []

    async with Fetcher(fast_crawler(), host_map={HOST: fixture_sites.address}) as fetcher:
        fetch = fetcher.fetch

        async def recorded(url: str, **how: Any) -> FetchResult:
            asked.append(url)
            return await fetch(url, **how)

        fetcher.fetch = recorded  # type: ignore[method-assign]
        again = await adapter_for("html").crawl(cfb_archive(), fetcher=fetcher, memos=memos)

    # Where a memo leaves the source, the walk ends unfinished, as where a fetched page's
    # link does: what lies beyond was not read.
    assert elsewhere not in asked and len(asked) == 2
    assert isinstance(again.error, LeavesSource) and not again.finished
    assert again.pages_not_modified == 2 and again.memos[-1].url == second.url
