"""Every feed `radar feed` writes is valid Atom (RFC 4287), after a real run of every source."""

from __future__ import annotations

from pathlib import Path

import feedparser
from sqlalchemy.engine import Engine

from radar.fixture_server import FixtureServer
from radar.publish import write_feeds
from tests.conftest import shipped_config
from tests.test_pipeline import crawl

BASE = "https://radar.centerforborgerdialog.dk/feeds/"


async def test_every_feed_parses_and_has_the_required_elements(
    fixture_sites: FixtureServer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    config = shipped_config()
    config = config.model_copy(update={"feed": config.feed.model_copy(update={"base_url": BASE})})
    sources = [spec for spec in config.sources if spec.enabled]
    for snapshot in ("snapshot-1", "snapshot-2"):
        fixture_sites.snapshot = snapshot
        await crawl(fixture_sites, sqlite_engine, sources)

    paths = write_feeds(sqlite_engine, config, out_dir=tmp_path)

    assert len(paths) >= 3 + len(config.sources)
    total = 0
    for path in paths:
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path.name, parsed.get("bozo_exception"))
        feed = parsed.feed
        assert feed.id.startswith("tag:") and feed.title and feed.updated, path.name
        assert {"rel": "self", "href": BASE + path.name} in [
            {"rel": link.rel, "href": link.href} for link in feed.links
        ]
        for entry in parsed.entries:
            assert entry.id.startswith("tag:") and entry.title and entry.updated, path.name
            assert entry.link.startswith("https://") and entry.author, path.name
        total += len(parsed.entries)
    assert total > 0
