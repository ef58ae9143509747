"""`enrich:` fills what a listing leaves out from each new item's own page — and only then."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import radar.pipeline
from radar.fixture_server import Fault, FixtureServer
from scraper.adapters.html import HtmlSpec
from storage.models import Event, Item
from tests.conftest import ListingSite
from tests.test_pipeline import crawl


def bare_listing(
    site: ListingSite, snapshot: str, slugs: list[str], *, foreign: bool = False
) -> None:
    """A listing with titles and links only, and an item page per slug."""
    host_dir = site.root / snapshot / site.host
    items = "".join(
        f'<li class="item"><h3><a href="/items/{s}/">Titel {s}</a></h3></li>' for s in slugs
    )
    if foreign:
        items += '<li class="item"><h3><a href="https://elsewhere.example/x/">Ude</a></h3></li>'
    (host_dir / "list").mkdir(parents=True, exist_ok=True)
    (host_dir / "list" / "index.html").write_text(
        f"<html><body><ul>{items}</ul></body></html>", "utf-8"
    )
    for slug in slugs:
        ld = json.dumps({"@type": "Report", "name": f"Titel {slug}", "description": f"Om {slug}."})
        page = (
            f'<html><head><script type="application/ld+json">{ld}</script></head><body>'
            f'<p class="publicerad">Publicerad 22 februari 2021</p></body></html>'
        )
        (host_dir / "items" / slug).mkdir(parents=True, exist_ok=True)
        (host_dir / "items" / slug / "index.html").write_text(page, "utf-8")


def spec(site: ListingSite, **enrich: Any) -> HtmlSpec:
    rule = {"fields": ["summary", "date"], "detail": {"date": "p.publicerad"}, **enrich}
    return site.spec(language="sv", fields={"title": "h3 a", "link": "h3 a @href"}, enrich=rule)


def item_pages(server: FixtureServer) -> list[str]:
    return [r.path for r in server.requests if r.path.startswith("/items/")]


async def test_new_items_are_filled_from_their_pages_once(
    listing_site: ListingSite, engine: Engine
) -> None:
    bare_listing(listing_site, "s1", ["a", "b"])
    bare_listing(listing_site, "s2", ["a", "b", "c"])
    source = spec(listing_site)
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [source])
        first = item_pages(server)
        server.clear_requests()
        server.snapshot = "s2"
        [second] = await crawl(server, engine, [source])
        later = item_pages(server)

    with Session(engine) as session:
        items = {i.title: i for i in session.exec(select(Item))}
        events = Counter(session.exec(select(Event.kind)))
    assert sorted(first) == ["/items/a/", "/items/b/"] and later == ["/items/c/"]
    assert (second.new, second.changed) == (1, 0) and events == Counter({"new": 1})
    assert items["Titel c"].summary == "Om c." and str(items["Titel c"].date_value) == "2021-02-22"
    assert items["Titel a"].date_precision == "day"


async def test_the_budget_foreign_links_and_broken_pages(
    listing_site: ListingSite, engine: Engine
) -> None:
    bare_listing(listing_site, "s1", ["a", "b", "c"], foreign=True)
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        server.script(listing_site.host, "/items/a/", [Fault(status=404)])
        [outcome] = await crawl(server, engine, [spec(listing_site, max_per_run=2)])
        fetched = item_pages(server)
        hosts = {r.host for r in server.requests}

    with Session(engine) as session:
        summaries = {i.title: i.summary for i in session.exec(select(Item))}
    assert outcome.ok and outcome.items == 4
    assert fetched == ["/items/a/", "/items/b/"]  # a fails, b is read, c is over budget
    assert summaries == {"Titel a": None, "Titel b": "Om b.", "Titel c": None, "Ude": None}
    assert hosts == {listing_site.host}  # the foreign item's page is never fetched


async def test_an_unchanged_listing_reads_no_item_pages_and_no_stored_items(
    listing_site: ListingSite, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every page answered 304: nothing to fill, so neither item pages nor the stored items
    # (a large source's whole table) are read for enrich.
    bare_listing(listing_site, "s1", ["a", "b"])
    source = spec(listing_site)
    loads: list[int] = []
    load = radar.pipeline.stored_items

    def counted(session: Session, source_id: int, **how: Any) -> Any:
        loads.append(source_id)
        return load(session, source_id, **how)

    monkeypatch.setattr(radar.pipeline, "stored_items", counted)
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [source])
        assert len(loads) == 1
        server.clear_requests()
        [again] = await crawl(server, engine, [source])

    assert (again.new, again.changed, again.removed) == (0, 0, 0)
    assert item_pages(server) == [] and len(loads) == 1
    assert [r.status for r in server.requests if r.path.startswith("/list")] == [304]
