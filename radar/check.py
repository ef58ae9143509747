"""`radar check`: crawl sources once, store nothing, and say how well the selectors work.

What an operator runs online after a redesign (or when adding a source) to confirm or fix
a source's configuration: items found, the share of items with each field filled, and a
few sample items to eyeball.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from radar.health import FIELDS, coverage
from scraper.adapters import adapter_for
from scraper.fetch import Fetcher

if TYPE_CHECKING:
    from collections.abc import Sequence

    from radar.config import RadarConfig
    from radar.items import ExtractedItem
    from scraper.crawl import Crawl
    from scraper.spec import SourceSpec

SAMPLES = 3


@dataclass(frozen=True, slots=True)
class CheckReport:
    source: str
    items: int
    pages: int
    skipped: int
    complete: bool
    error: str | None
    capped: bool = False
    coverage: dict[str, float] = field(default_factory=dict)
    samples: tuple[ExtractedItem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and self.items > 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.source,
            "ok": self.ok,
            "items": self.items,
            "pages": self.pages,
            "skipped": self.skipped,
            "complete": self.complete,
            "capped": self.capped,
            "error": self.error,
            "coverage": self.coverage,
            "samples": [_sample(item) for item in self.samples],
        }


def _sample(item: ExtractedItem) -> dict[str, str | None]:
    return {"link": item.url, **item.editorial()}


def report(spec: SourceSpec, crawl: Crawl) -> CheckReport:
    return CheckReport(
        source=spec.name,
        items=len(crawl.items),
        pages=crawl.pages,
        skipped=crawl.skipped,
        complete=crawl.complete,
        capped=crawl.capped,
        error=str(crawl.error) if crawl.error else None,
        coverage=coverage(crawl.items),
        samples=crawl.items[:SAMPLES],
    )


async def check_sources(
    config: RadarConfig, specs: Sequence[SourceSpec], *, host_map: dict[str, str] | None = None
) -> list[CheckReport]:
    """Crawl every spec without conditional requests (no memos) and without storing."""
    async with Fetcher(config.crawler, host_map=host_map) as fetcher:
        crawls = await asyncio.gather(
            *(adapter_for(spec.kind).crawl(spec, fetcher=fetcher, memos={}) for spec in specs)
        )
    return [report(spec, crawl) for spec, crawl in zip(specs, crawls, strict=True)]


def check_table(reports: Sequence[CheckReport]) -> Table:
    table = Table(title="radar check – nothing was stored")
    table.add_column("source")
    for column in ("items", "pages", "skipped", *FIELDS):
        table.add_column(column, justify="right")
    table.add_column("error", overflow="fold", max_width=50)
    for r in reports:
        shares = [f"{r.coverage.get(name, 0.0):.0%}" for name in FIELDS]
        table.add_row(
            r.source, str(r.items), str(r.pages), str(r.skipped), *shares, Text(r.error or "")
        )
    return table
