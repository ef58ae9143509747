"""The pipeline end to end: real HTTP on loopback, real SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

import feedparser
import pytest
from rich.console import Console
from sqlmodel import Session, col, select

from radar.fixture_server import Fault, FixtureServer
from radar.pipeline import RunOutcome, run_sources
from radar.publish import write_feeds
from radar.status import status_rows, status_table
from scraper.fetch import Fetcher
from scraper.urls import canonical_url
from storage.models import Event, Item, Run, RunStatus
from tests.conftest import (
    Entry,
    ListingSite,
    cfb_archive,
    expected,
    fast_crawler,
    shipped_config,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from scraper.adapters.html import HtmlSpec
    from scraper.spec import SourceSpec


async def crawl(
    server: FixtureServer, engine: Engine, specs: Sequence[SourceSpec], **crawler: object
) -> list[RunOutcome]:
    host_map = {host: server.address for host in server.hosts()}
    async with Fetcher(fast_crawler(**crawler), host_map=host_map) as fetcher:
        return await run_sources(specs, engine=engine, fetcher=fetcher)


async def baseline_then_s2(listing_site: ListingSite, engine: Engine) -> HtmlSpec:
    """The listing site's source crawled on snapshot s1 (its silent baseline), then on s2."""
    spec = listing_site.spec()
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [spec])
        server.snapshot = "s2"
        await crawl(server, engine, [spec])
    return spec


def stored(engine: Engine) -> list[Item]:
    """Every stored item, in the order stored."""
    with Session(engine) as session:
        return list(session.exec(select(Item).order_by(col(Item.id))))


def events(engine: Engine) -> Counter[tuple[str, str]]:
    """(kind, item url) of every event so far."""
    with Session(engine) as session:
        rows = session.exec(
            select(Event.kind, Item.url).join(Item, col(Item.id) == col(Event.item_id))
        )
        return Counter((kind, canonical_url(url)) for kind, url in rows)


def expected_events(snapshot: str) -> Counter[tuple[str, str]]:
    changes = expected("cfb-archive", "changes.json")[snapshot]
    return Counter((kind, canonical_url(link)) for kind, links in changes.items() for link in links)


async def test_cfb_snapshots_announce_exactly_what_changed(
    fixture_sites: FixtureServer, engine: Engine
) -> None:
    cfb = cfb_archive()

    [first] = await crawl(fixture_sites, engine, [cfb])
    assert (first.status, first.items, first.pages) == (RunStatus.BASELINE, 87, 9)
    assert events(engine) == Counter()

    fixture_sites.snapshot = "snapshot-2"
    [second] = await crawl(fixture_sites, engine, [cfb])
    assert (second.status, second.new, second.changed, second.removed) == (RunStatus.OK, 3, 2, 2)
    assert events(engine) == expected_events("snapshot-2")

    fixture_sites.snapshot = "snapshot-3"
    [third] = await crawl(fixture_sites, engine, [cfb])
    assert (third.reappeared, third.new, third.changed, third.removed) == (1, 0, 0, 0)
    assert events(engine) == expected_events("snapshot-2") + expected_events("snapshot-3")

    with Session(engine) as session:
        present = session.exec(select(Item).where(col(Item.removed_at).is_(None))).all()
    stored = {
        canonical_url(item.url): (item.title, item.summary, item.category) for item in present
    }
    want = {
        canonical_url(i["link"]): (i["title"], i["summary"], i["category"])
        for i in expected("cfb-archive", "snapshot-3.json")
    }
    assert stored == want


async def test_an_unchanged_rerun_is_answered_304_and_announces_nothing(
    fixture_sites: FixtureServer, engine: Engine
) -> None:
    cfb = cfb_archive()
    await crawl(fixture_sites, engine, [cfb])
    fixture_sites.clear_requests()

    [again] = await crawl(fixture_sites, engine, [cfb])

    pages = [r for r in fixture_sites.requests if r.path != "/robots.txt"]
    assert again.status == RunStatus.UNCHANGED
    assert again.items == 87
    assert [r.status for r in pages] == [304] * 9
    assert all("if-none-match" in r.headers for r in pages)
    assert events(engine) == Counter()


async def test_one_failing_source_never_rolls_back_another(
    fixture_sites: FixtureServer, engine: Engine
) -> None:
    cfb = cfb_archive()
    broken = cfb.model_copy(
        update={"name": "broken", "url": "https://centerforborgerdialog.dk/gone/"}
    )

    outcomes = await crawl(fixture_sites, engine, [broken, cfb])

    assert [(o.source, o.status) for o in outcomes] == [
        ("broken", RunStatus.FAILED),
        ("cfb-archive", RunStatus.BASELINE),
    ]
    assert "404" in (outcomes[0].error or "")
    with Session(engine) as session:
        assert len(session.exec(select(Item)).all()) == 87


async def test_a_page_failing_midway_announces_new_items_but_removes_nothing(
    listing_site: ListingSite, engine: Engine
) -> None:
    entries = [Entry(f"item-{n}", f"Titel {n}") for n in range(9)]
    listing_site.write("s1", entries)
    listing_site.write("s2", [Entry("fresh", "Helt ny"), *entries[:5]])
    spec = listing_site.spec()
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [spec])
        server.snapshot = "s2"
        server.script(listing_site.host, "/list/page/2/", [Fault(status=503)] * 3)

        [partial] = await crawl(server, engine, [spec])

    assert (partial.status, partial.new, partial.removed) == (RunStatus.PARTIAL, 1, 0)
    assert "503" in (partial.error or "")
    assert not partial.ok


async def test_a_listing_longer_than_max_pages_ends_its_baseline_and_announces(
    listing_site: ListingSite, engine: Engine
) -> None:
    # Three pages of three; the source reads two. The head of the listing is read whole
    # every run, so the baseline ends and new items are news; the tail is never removed.
    entries = [Entry(f"item-{n}", f"Titel {n}") for n in range(9)]
    listing_site.write("s1", entries)
    listing_site.write("s2", [Entry("fresh", "Helt ny"), *entries])
    spec = listing_site.spec(max_pages=2)
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        [baseline] = await crawl(server, engine, [spec])
        server.snapshot = "s2"
        [news] = await crawl(server, engine, [spec])
        [again] = await crawl(server, engine, [spec])

    assert (baseline.status, baseline.items, baseline.ok) == (RunStatus.BASELINE, 6, True)
    # item-5 slid onto the third page, which is not read: not removed.
    assert (news.status, news.new, news.removed, news.ok) == (RunStatus.OK, 1, 0, True)
    assert (again.status, again.new, again.ok) == (RunStatus.UNCHANGED, 0, True)
    assert events(engine) == Counter({("new", "https://site.test/items/fresh"): 1})
    with Session(engine) as session:
        runs = session.exec(select(Run).order_by(col(Run.id))).all()
    assert [(run.complete, run.capped) for run in runs] == [(False, True)] * 3
    assert not any(item.removed_at for item in stored(engine))
    # radar status says so, as operators read it and as monitoring does.
    [row] = [row for row in status_rows(engine, shipped_config()) if row.name == "site"]
    assert (row.status, row.capped, row.as_json()["capped"]) == ("unchanged", True, True)
    console = Console(record=True, width=250)
    console.print(status_table([row]))
    assert "unchanged · capped" in console.export_text()


async def test_an_item_moving_up_into_a_capped_head_is_stored_quietly(
    listing_site: ListingSite, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    entries = [Entry(f"item-{n}", f"Titel {n}") for n in range(9)]
    listing_site.write("s1", entries)
    # Two items of the head deleted, one added at the top: item-6, never read before,
    # moves up onto the second page (the last the source reads). Not news.
    listing_site.write("s2", [Entry("fresh", "Helt ny"), entries[0], *entries[3:]])
    spec = listing_site.spec(max_pages=2)
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [spec])
        server.snapshot = "s2"
        with caplog.at_level(logging.INFO, logger="radar.recording"):
            [run] = await crawl(server, engine, [spec])

    assert (run.status, run.new, run.removed) == (RunStatus.OK, 1, 0)
    assert events(engine) == Counter({("new", "https://site.test/items/fresh"): 1})
    announced = {row.key.rsplit("/", 1)[-1]: row.announced for row in stored(engine)}
    assert (announced["fresh"], announced["item-6"]) == (True, False)
    assert "1 item(s) moved up into the listing's first 2 pages" in caplog.text


async def test_a_next_link_off_the_sources_domains_is_reported_and_removes_nothing(
    listing_site: ListingSite, engine: Engine
) -> None:
    entries = [Entry(f"item-{n}", f"Titel {n}") for n in range(6)]
    listing_site.write("s1", entries)
    listing_site.write("s2", entries[:2])
    spec = listing_site.spec()
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [spec])
        server.snapshot = "s2"
        # The first page now sends the walk to another site, where the rest may well be.
        elsewhere = listing_site.page(entries[:2], next_page=2, encoding="utf-8").replace(
            b'href="/list/page/2/"', b'href="https://elsewhere.example/list/page/2/"'
        )
        server.script(listing_site.host, "/list/", [Fault(status=200, body=elsewhere)])

        [partial] = await crawl(server, engine, [spec])

    assert (partial.status, partial.removed, partial.ok) == (RunStatus.PARTIAL, 0, False)
    assert "leaves the source's domains: https://elsewhere.example/list/page/2/" in (
        partial.error or ""
    )
    assert not any(item.removed_at for item in stored(engine))


async def test_a_listing_that_suddenly_yields_nothing_is_suspect_not_a_mass_removal(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write("s1", [Entry(f"item-{n}", f"Titel {n}") for n in range(6)])
    spec = listing_site.spec()
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [spec])
        redesign = (
            b"<html><body><div class='new-grid'><article>Nyt design</article></div></body></html>"
        )
        server.script(listing_site.host, "/list/", [Fault(status=200, body=redesign)])

        [suspect] = await crawl(server, engine, [spec])
        [after] = await crawl(server, engine, [spec])

    assert suspect.status == RunStatus.SUSPECT
    assert "suspected layout change" in (suspect.error or "")
    # The suspect run stored nothing, not even page validators: the next run carries on from
    # the baseline as if it had not happened.
    assert (after.status, after.items) == (RunStatus.UNCHANGED, 6)
    assert events(engine) == Counter()


async def test_feed_entries_are_updated_in_place_and_hostile_text_is_escaped(
    listing_site: ListingSite, engine: Engine, tmp_path: Path
) -> None:
    base = [Entry("old", "Gammel")]
    listing_site.write("s1", base)
    listing_site.write("s2", [Entry("x", "<script>alert(1)</script> & co"), *base])
    listing_site.write("s3", [Entry("x", "Ny titel"), *base])
    spec = listing_site.spec()
    config = shipped_config().model_copy(update={"sources": (spec,)})
    parsed = []
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        for snapshot in ("s1", "s2", "s3"):
            server.snapshot = snapshot
            await crawl(server, engine, [spec])
            [path, *_] = write_feeds(engine, config, out_dir=tmp_path / snapshot)
            parsed.append((path.read_bytes(), feedparser.parse(path.read_bytes())))

    (_, empty), (raw, hostile), (_, renamed) = parsed
    assert empty.entries == [] and not empty.bozo
    assert not hostile.bozo and b"<script" not in raw
    assert hostile.entries[0].title == "<script>alert(1)</script> & co"
    assert hostile.entries[0].link == "https://site.test/items/x/?utm_source=list"
    assert [e.id for e in renamed.entries] == [hostile.entries[0].id]
    assert renamed.entries[0].title == "Ny titel"
    assert renamed.entries[0].updated_parsed > hostile.entries[0].updated_parsed or (
        renamed.entries[0].updated >= hostile.entries[0].updated
    )


async def test_a_windows_1252_listing_keeps_its_danish_letters(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write(
        "s1", [Entry("aeble", "Æblegrød på Ærø", "Smørrebrød og blåbær")], encoding="windows-1252"
    )
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [listing_site.spec()])
    with Session(engine) as session:
        item = session.exec(select(Item)).one()
    assert (item.title, item.summary) == ("Æblegrød på Ærø", "Smørrebrød og blåbær")


async def test_429_with_retry_after_is_honoured_end_to_end(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write("s1", [Entry("a", "A")])
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        server.script(
            listing_site.host, "/list/", [Fault(status=429, headers={"Retry-After": "1"})]
        )
        [outcome] = await crawl(server, engine, [listing_site.spec()])
        hits = [r for r in server.requests_for(listing_site.host, "/list/")]

    assert outcome.status == RunStatus.BASELINE
    assert [r.status for r in hits] == [429, 200]
    assert hits[1].time - hits[0].time >= 0.95
