"""html listings paged by URL pattern (`page_url: …/page/{n}/`) as well as by next link."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from radar.fixture_server import Fault, FixtureServer
from scraper.adapters import adapter_for
from scraper.adapters.html import HtmlSpec
from scraper.crawl import Crawl
from scraper.fetch import Fetcher
from tests.conftest import cfb_archive, expected, fast_crawler

HOST = "centerforborgerdialog.dk"
PATTERN = "https://centerforborgerdialog.dk/category/inspiration-praksis/page/{n}/"


def by_pattern() -> HtmlSpec:
    return cfb_archive().model_copy(update={"next_page": None, "page_url": PATTERN})


async def crawl(server: FixtureServer, spec: HtmlSpec) -> Crawl:
    async with Fetcher(fast_crawler(), host_map={HOST: server.address}) as fetcher:
        return await adapter_for("html").crawl(spec, fetcher=fetcher, memos={})


async def test_the_archive_read_by_url_pattern_ends_at_the_404_after_its_last_page(
    fixture_sites: FixtureServer,
) -> None:
    result = await crawl(fixture_sites, by_pattern())
    pages = [r.path for r in fixture_sites.requests if r.path != "/robots.txt"]

    assert result.complete and result.error is None
    assert [i.title for i in result.items] == [
        i["title"] for i in expected("cfb-archive", "snapshot-1.json")
    ]
    assert pages[-1] == "/category/inspiration-praksis/page/10/" and len(pages) == 10


async def test_a_failing_page_in_the_middle_is_not_the_end(fixture_sites: FixtureServer) -> None:
    fixture_sites.script(HOST, "/category/inspiration-praksis/page/4/", [Fault(status=500)] * 3)
    result = await crawl(fixture_sites, by_pattern())
    assert not result.complete and "500" in str(result.error)


@pytest.mark.parametrize(
    "pattern", ["https://x.dk/page/", "https://x.dk/{n}/{n}/", "ftp://x.dk/{n}"]
)
def test_a_pattern_needs_one_page_number_and_a_web_url(pattern: str) -> None:
    with pytest.raises(ValidationError):
        HtmlSpec.model_validate(
            {
                "name": "x",
                "kind": "html",
                "url": "https://x.dk/",
                "item": "li",
                "fields": {"title": "a", "link": "a @href"},
                "page_url": pattern,
            }
        )
