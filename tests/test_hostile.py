"""Broken and hostile input, served for real over loopback: nothing crashes, nothing floods.

Each test says what was announced, what was stored, and what was left untouched.
"""

from __future__ import annotations

from pathlib import Path

import feedparser
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from radar.fixture_server import Fault, FixtureServer
from radar.publish import write_feeds
from storage.models import Event, RunStatus
from tests.conftest import Entry, ListingSite, shipped_config
from tests.test_pipeline import baseline_then_s2, crawl, stored

HTML = {"Content-Type": "text/html; charset=utf-8"}


def page(body: str) -> bytes:
    head = "<!doctype html><html><head><meta charset='utf-8'></head>"
    return f"{head}<body>{body}</body></html>".encode()


def events(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(Event.kind)))


async def serve_once(
    site: ListingSite, engine: Engine, body: bytes, **crawler: object
) -> list[object]:
    site.write("s", [Entry("seed", "Seed")])
    with FixtureServer(site.root, snapshot="s") as server:
        server.script(site.host, "/list/", [Fault(status=200, headers=HTML, body=body)])
        return await crawl(server, engine, [site.spec()], **crawler)


async def test_malformed_html_is_read_as_a_browser_would(
    listing_site: ListingSite, engine: Engine
) -> None:
    broken = page(
        "<ul><li class=item><h3><a href='/a/'>Første <b>titel</h3><p>Tekst uden slut"
        "<li class=item><h3><a href=/b/>Anden</a><p>Mere"
    )
    [outcome] = await serve_once(listing_site, engine, broken)
    assert outcome.status == RunStatus.BASELINE
    assert [(i.title, i.summary) for i in stored(engine)] == [
        ("Første titel", "Tekst uden slut"),
        ("Anden", "Mere"),
    ]


async def test_a_truncated_response_fails_the_run_and_changes_nothing(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write("s", [Entry("a", "A"), Entry("b", "B")])
    spec = listing_site.spec()
    truncated = Fault(status=200, headers={**HTML, "Content-Length": "5000"}, body=page("<li>"))
    with FixtureServer(listing_site.root, snapshot="s") as server:
        await crawl(server, engine, [spec])
        server.script(listing_site.host, "/list/", [truncated] * 3)
        [outcome] = await crawl(server, engine, [spec])
    assert outcome.status == RunStatus.FAILED
    assert [i.title for i in stored(engine)] == ["A", "B"]
    assert all(i.removed_at is None for i in stored(engine))


async def test_a_50_mb_page_is_capped_not_loaded(listing_site: ListingSite, engine: Engine) -> None:
    huge = page("<li class=item>" + "x" * (50 * 1024 * 1024) + "</li>")
    [outcome] = await serve_once(listing_site, engine, huge, max_response_bytes=1_000_000)
    assert outcome.status == RunStatus.FAILED
    assert "larger than 1000000 bytes" in (outcome.error or "")
    assert stored(engine) == []


async def test_binary_content_served_as_html_is_an_error_not_items(
    listing_site: ListingSite, engine: Engine
) -> None:
    binary = bytes(range(256)) * 64
    [outcome] = await serve_once(listing_site, engine, binary)
    assert outcome.status == RunStatus.FAILED
    assert "binary content" in (outcome.error or "")
    assert stored(engine) == []


async def test_wrong_charset_loses_letters_but_not_the_page(
    listing_site: ListingSite, engine: Engine
) -> None:
    latin1 = "<ul><li class=item><h3><a href='/a/'>Blåbær</a></h3></li></ul>".encode("cp1252")
    [outcome] = await serve_once(listing_site, engine, latin1)  # header says utf-8
    assert outcome.status == RunStatus.BASELINE
    [item] = stored(engine)
    assert item.title == "Bl\ufffdb\ufffdr"


async def test_duplicates_scripts_and_foreign_links_on_one_page(
    listing_site: ListingSite, engine: Engine
) -> None:
    body = page(
        "<ul>"
        "<li class=item><h3><a href='/a/?utm_source=x'>Samme</a></h3></li>"
        "<li class=item><h3><a href='/a/'>Samme igen</a></h3></li>"
        "<li class=item><h3><a href='javascript:alert(1)'>Script</a></h3></li>"
        "<li class=item><h3><a href='data:text/html,hej'>Data</a></h3></li>"
        "<li class=item><h3><a href='https://elsewhere.example/rapport'>Ude</a></h3></li>"
        "</ul><a class=next href='https://elsewhere.example/list/page/2/'>Næste</a>"
    )
    [outcome] = await serve_once(listing_site, engine, body)
    assert (outcome.items, outcome.skipped) == (3, 2)
    assert [(i.title, i.url) for i in stored(engine)] == [
        ("Samme", "https://site.test/a/?utm_source=x"),
        ("Ude", "https://elsewhere.example/rapport"),
    ]
    # The next link leaves the allowed domains: not followed, and the run says so.
    assert outcome.pages == 1 and "leaves the source's domains" in (outcome.error or "")


async def test_a_next_link_that_loops_back_ends_the_listing(
    listing_site: ListingSite, engine: Engine
) -> None:
    body = page(
        "<ul><li class=item><h3><a href='/a/'>A</a></h3></li></ul>"
        "<a class=next href='/list/'>Næste</a>"
    )
    [outcome] = await serve_once(listing_site, engine, body)
    assert (outcome.status, outcome.pages, outcome.items) == (RunStatus.BASELINE, 1, 1)


async def test_markup_and_control_characters_never_reach_a_feed_as_markup(
    listing_site: ListingSite, engine: Engine, tmp_path: Path
) -> None:
    listing_site.write("s1", [Entry("seed", "Seed")])
    listing_site.write(
        "s2",
        [
            Entry("x", "&lt;img src=x onerror=alert(1)&gt; Ny\x07 rapport\x00", "<b>fed</b>\x1b"),
            Entry("seed", "Seed"),
        ],
    )
    spec = await baseline_then_s2(listing_site, engine)
    config = shipped_config().model_copy(update={"sources": (spec,)})
    [path, *_] = write_feeds(engine, config, out_dir=tmp_path)
    raw = path.read_bytes()
    [entry] = feedparser.parse(raw).entries
    assert b"<img" not in raw and b"<b>" not in raw
    assert entry.title == "&lt;img src=x onerror=alert(1)&gt; Ny rapport"
    assert "\x07" not in entry.title and "\x1b" not in entry.summary
    assert events(engine) == ["new"]


async def test_a_listing_robots_txt_forbids_is_reported_not_fetched(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write("s", [Entry("a", "A")])
    (listing_site.root / "s" / listing_site.host / "robots.txt").write_text(
        "User-agent: *\nDisallow: /list/\n", encoding="utf-8"
    )
    with FixtureServer(listing_site.root, snapshot="s") as server:
        [outcome] = await crawl(server, engine, [listing_site.spec()])
        paths = [r.path for r in server.requests]

    assert outcome.status == RunStatus.FAILED
    assert "robots.txt disallows" in (outcome.error or "")
    assert paths == ["/robots.txt"]
