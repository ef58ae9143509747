"""Running sources once, from the CLI, the demo or a scheduler: database, fetcher, event loop."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from radar.pipeline import RunOutcome, run_sources
from scraper.fetch import Fetcher
from storage.db import open_database

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from radar.config import RadarConfig
    from scraper.spec import SourceSpec


def run_once(
    config: RadarConfig,
    specs: Sequence[SourceSpec],
    *,
    database_url: str | None = None,
    host_map: dict[str, str] | None = None,
    on_done: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run the given sources once against the database (RADAR_DATABASE_URL by default)."""
    engine = open_database(database_url)

    async def crawl() -> list[RunOutcome]:
        async with Fetcher(config.crawler, host_map=host_map) as fetcher:
            return await run_sources(
                specs, engine=engine, fetcher=fetcher, on_done=on_done, relevance=config.relevance
            )

    try:
        return asyncio.run(crawl())
    finally:
        engine.dispose()
