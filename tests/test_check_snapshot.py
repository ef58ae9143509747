"""`radar check` (crawl, store nothing, report coverage) and `radar snapshot` (save fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

from radar.fixture_server import FixtureServer
from scraper.adapters import adapter_for
from scraper.fetch import Fetcher
from tests.conftest import expected, fast_crawler, shipped_config
from tests.test_cli import fast_config, radar, resolve_all


def test_check_reports_coverage_and_samples_and_stores_nothing(
    fixture_sites: FixtureServer, tmp_path: Path
) -> None:
    db = tmp_path / "radar.db"
    result = radar(
        "check",
        "--config",
        str(fast_config(tmp_path)),
        "--json",
        *resolve_all(fixture_sites),
        db=db,
    )

    assert result.returncode == 0, result.stderr
    reports = {r["name"]: r for r in json.loads(result.stdout)}
    assert reports["cfb"]["items"] == 87
    assert reports["cfb"]["coverage"] == dict.fromkeys(
        ["title", "link", "summary", "category", "date"], 1.0
    )
    assert reports["skr"]["samples"][0]["title"] == expected("skr", "snapshot-1.json")[0]["title"]
    assert not db.exists()


def test_check_exits_1_when_a_source_yields_nothing(
    fixture_sites: FixtureServer, tmp_path: Path
) -> None:
    config = fast_config(tmp_path)
    config.write_text(
        config.read_text("utf-8").replace(
            'item: ".resources-list .resource-item"', 'item: "article.gone"'
        ),
        "utf-8",
    )
    result = radar(
        "check",
        "--config",
        str(config),
        "--source",
        "knoca",
        *resolve_all(fixture_sites),
        db=tmp_path / "x.db",
    )

    assert result.returncode == 1
    assert "knoca" in result.stdout


async def test_a_snapshot_serves_back_as_fixtures_with_the_same_items(
    fixture_sites: FixtureServer, tmp_path: Path
) -> None:
    saved = tmp_path / "sites" / "live"
    result = radar(
        "snapshot",
        "--config",
        str(fast_config(tmp_path)),
        "skr",
        str(saved),
        *resolve_all(fixture_sites),
        db=tmp_path / "x.db",
    )
    assert result.returncode == 0, result.stderr
    assert (saved / "skr.se" / "robots.txt").exists()

    spec = shipped_config().source("skr")
    with FixtureServer(tmp_path / "sites", snapshot="live") as replay:
        async with Fetcher(fast_crawler(), host_map={"skr.se": replay.address}) as fetcher:
            crawl = await adapter_for(spec.kind).crawl(spec, fetcher=fetcher, memos={})

    assert crawl.complete
    assert [item.title for item in crawl.items] == [
        i["title"] for i in expected("skr", "snapshot-1.json")
    ]
