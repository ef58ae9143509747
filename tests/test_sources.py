"""Every source in the shipped config.yaml, through its own adapter, over loopback.

Data-driven: tests/fixtures/expected/<source>/snapshot-N.json holds the items each
snapshot must yield, changes.json what each later snapshot must announce. A new source
needs only its fixture pages and those files.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlmodel import Session, col, select

from radar.fixture_server import FixtureServer
from radar.items import ExtractedItem
from radar.pipeline import run_sources
from scraper.adapters import adapter_for
from scraper.fetch import Fetcher
from scraper.identity import identity_function
from storage.db import make_engine, migrate
from storage.models import Event, Item
from tests.conftest import EXPECTED, SITES, fast_crawler, shipped_config

CONFIG = shipped_config()
SOURCES = [spec.name for spec in CONFIG.sources]


def test_every_configured_source_has_fixtures_and_expected_items() -> None:
    missing = [name for name in SOURCES if not (EXPECTED / name / "snapshot-1.json").exists()]
    assert missing == []


def as_expected(item: ExtractedItem) -> dict[str, str | None]:
    return {
        "title": item.title,
        "link": item.url,
        "summary": item.summary,
        "category": item.category,
        "date": str(item.date) if item.date else None,
    }


def snapshots(name: str) -> list[str]:
    return sorted(path.stem for path in (EXPECTED / name).glob("snapshot-*.json"))


@pytest.mark.parametrize("name", SOURCES)
async def test_each_snapshot_yields_exactly_the_expected_items(name: str) -> None:
    spec = CONFIG.source(name)
    for snapshot in snapshots(name):
        with FixtureServer(SITES, snapshot=snapshot) as server:
            host_map = {host: server.address for host in server.hosts()}
            async with Fetcher(fast_crawler(), host_map=host_map) as fetcher:
                crawl = await adapter_for(spec.kind).crawl(spec, fetcher=fetcher, memos={})
        want = (EXPECTED / name / f"{snapshot}.json").read_text(encoding="utf-8")
        assert crawl.complete and crawl.error is None and crawl.skipped == 0
        assert [as_expected(item) for item in crawl.items] == json.loads(want)


@pytest.mark.parametrize("name", SOURCES)
async def test_each_snapshot_announces_exactly_the_expected_changes(
    name: str, tmp_path: object
) -> None:
    spec = CONFIG.source(name)
    changes = json.loads((EXPECTED / name / "changes.json").read_text(encoding="utf-8"))
    identity = identity_function(spec.identity)
    engine = make_engine(f"sqlite:///{tmp_path}/radar.db")
    migrate(engine)
    try:
        with FixtureServer(SITES, snapshot="snapshot-1") as server:
            host_map = {host: server.address for host in server.hosts()}
            for snapshot in snapshots(name):
                server.snapshot = snapshot
                async with Fetcher(fast_crawler(), host_map=host_map) as fetcher:
                    [outcome] = await run_sources([spec], engine=engine, fetcher=fetcher)
                assert outcome.ok, outcome.error
                with Session(engine) as session:
                    rows = session.exec(
                        select(Event.kind, Item.key)
                        .join(Item, col(Item.id) == col(Event.item_id))
                        .where(Event.run_id == outcome.run_id)
                    )
                    got = Counter((kind, key) for kind, key in rows)
                want = Counter(
                    (kind, identity(link))
                    for kind, links in changes.get(snapshot, {}).items()
                    for link in links
                )
                assert got == want, snapshot
    finally:
        engine.dispose()
