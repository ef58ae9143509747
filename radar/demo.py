"""`radar demo`: the whole pipeline offline, on modelled copies of the real sources.

It serves tests/fixtures/sites over a loopback HTTP server, points the shipped config's
sources at it (like `curl --resolve`, so URLs and identities stay the real ones), runs a
silent baseline on snapshot 1 and a second run on snapshot 2, and writes the feeds.
Its database is a fresh SQLite file in the demo folder: it never touches a real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from radar.config import load_config
from radar.errors import RadarError
from radar.fixture_server import FixtureServer
from radar.publish import ALL_NEW, write_feeds
from radar.runner import run_once
from scraper.urls import host_of
from storage.db import open_database
from storage.queries import ItemFilter, announced_items

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.engine import Engine

    from radar.config import RadarConfig
    from radar.runs import RunOutcome

CHECKOUT = Path(__file__).resolve().parents[1]
FIXTURE_SITES = CHECKOUT / "tests" / "fixtures" / "sites"
BUNDLED_CONFIG = CHECKOUT / "config.yaml"
SNAPSHOTS = ("snapshot-1", "snapshot-2")


def _demo_config(config_path: Path | None) -> RadarConfig:
    if not FIXTURE_SITES.is_dir():
        raise RadarError(
            f"the demo serves the fixture pages in {FIXTURE_SITES}; run it from a source "
            "checkout installed with `pip install -e .`"
        )
    config = load_config(config_path or BUNDLED_CONFIG)
    # Loopback answers in microseconds; politeness delays would only slow the demo down.
    crawler = config.crawler.model_copy(update={"host_delay": 0.0, "backoff_initial": 0.05})
    return config.model_copy(update={"crawler": crawler})


def _round_table(title: str, outcomes: list[RunOutcome]) -> Table:
    table = Table(title=title)
    table.add_column("source")
    table.add_column("status")
    for column in ("pages", "items", "new", "changed", "removed", "back"):
        table.add_column(column, justify="right")
    for o in outcomes:
        counts = (o.pages, o.items, o.new, o.changed, o.removed, o.reappeared)
        table.add_row(o.source, o.status, *(str(n) for n in counts))
    return table


def run_demo(*, out_dir: Path, config_path: Path | None, console: Console) -> None:
    config = _demo_config(config_path)
    database = out_dir / "radar.db"
    for stale in out_dir.glob("radar.db*"):
        stale.unlink()
    database_url = f"sqlite:///{database.resolve()}"
    with FixtureServer(FIXTURE_SITES, snapshot=SNAPSHOTS[0]) as server:
        host_map = {host: server.address for host in server.hosts()}
        specs = [s for s in config.sources if s.enabled and host_of(s.url) in host_map]
        skipped = [s.name for s in config.sources if s.enabled and s not in specs]
        console.print(f"Serving modelled sites on {server.base_url}: {', '.join(sorted(host_map))}")
        if skipped:
            console.print(f"No fixture pages for: {', '.join(skipped)} (left out)")
        for number, snapshot in enumerate(SNAPSHOTS, start=1):
            server.snapshot = snapshot
            outcomes = run_once(config, specs, database_url=database_url, host_map=host_map)
            label = "baseline: stored silently" if number == 1 else "what changed"
            console.print(_round_table(f"Run {number} on {snapshot} ({label})", outcomes))
    engine = open_database(database_url)
    try:
        feeds = write_feeds(engine, config, out_dir=out_dir / "feeds")
        _print_new_items(console, engine, config)
    finally:
        engine.dispose()
    console.print(
        f"\nFeed of new items: [bold]{feeds[0]}[/]  (per source: {feeds[0].parent}/<source>.atom)"
    )
    console.print(f"Demo database: {database}")


def _print_new_items(console: Console, engine: Engine, config: RadarConfig) -> None:
    """What new.atom shows; the sources with their own feed only are summed up after it."""
    with Session(engine) as session:
        items = announced_items(session, only=ItemFilter(exclude_sources=config.own_feed_only))
    console.print(f"\n[bold]New in {ALL_NEW}.atom[/] ({len(items)}):")
    for item in items:
        line = Text("  • ")
        line.append(item.title, style="bold")
        line.append(f"  [{item.source_name}{', ' + str(item.date) if item.date else ''}]")
        console.print(line)
    for name in config.own_feed_only:
        with Session(engine) as session:
            own = announced_items(session, only=ItemFilter(source_name=name))
        console.print(f"{name}: {len(own)} new, in its own feed only ({name}.atom)")
