"""One Radar run against the synthetic site, as its own process; prints one JSON line.

`python -m bench.radar_job --base http://127.0.0.1:PORT --db sqlite:///x.db [--enrich]`

It runs the real pipeline (radar.pipeline.run_sources with a real Fetcher and database):
robots.txt obeyed, conditional GET with the page memos of the last run, extraction, diff
and one transaction for the run. With `--enrich`, every new item's detail page is read
(JSON-LD / OpenGraph) for its summary and date, which is the same work Scrapy's spider does.

The config limits (`max_pages` ≤ 500, `enrich.max_per_run` ≤ 1000) are there for real
editorial sites; the benchmark lifts them with `model_copy` so that Radar reads the whole
1,000-page listing and all 20,000 detail pages, as Scrapy does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import Counter

from sqlmodel import Session, col, select

import radar.cli  # noqa: F401  (what `radar run` imports, so the peak RSS is a real run's)
from radar.pipeline import run_sources
from radar.runtime import after_imports
from scraper.adapters.html import HtmlSpec
from scraper.fetch import Fetcher
from scraper.spec import CrawlerSettings, EnrichRule
from storage.db import open_database
from storage.models import Event, Item

CONCURRENCY = 16


def crawler_settings() -> CrawlerSettings:
    return CrawlerSettings(
        contact_url="https://example.org/contact/",
        user_agent="InspirationRadarBench/0.1",
        host_delay=0,
        host_concurrency=CONCURRENCY,
        timeout=30,
    )


def source_spec(base: str, *, enrich: bool, max_pages: int = 5000) -> HtmlSpec:
    spec = HtmlSpec.model_validate(
        {
            "name": "synthetic",
            "kind": "html",
            "url": f"{base}/catalogue/page/1.html",
            "language": "da",
            "item": "li.item",
            "fields": {"title": "h3 a", "link": "h3 a @href", "category": "span.category"},
            "next_page": "a.next @href",
            "health": {"max_new_share": 1.0},
        }
    )
    update: dict[str, object] = {"max_pages": max_pages}
    if enrich:
        rule = EnrichRule.model_validate({"fields": ["summary", "date"]})
        update["enrich"] = rule.model_copy(update={"max_per_run": 1_000_000})
    return spec.model_copy(update=update)


class Traffic:
    """Counts answers by status and the bytes received (headers and bodies)."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.bytes = 0

    def __call__(self, url: str, status: int, headers: dict[str, str], body: bytes) -> None:
        self.statuses[status] += 1
        self.bytes += len(body) + sum(len(k) + len(v) + 4 for k, v in headers.items()) + 17


async def crawl(base: str, db: str, *, enrich: bool) -> dict[str, object]:
    engine = open_database(db)
    traffic = Traffic()
    spec = source_spec(base, enrich=enrich)
    started = time.perf_counter()
    cpu0 = time.process_time()
    async with Fetcher(crawler_settings(), on_response=traffic) as fetcher:
        [outcome] = await run_sources([spec], engine=engine, fetcher=fetcher)
    wall = time.perf_counter() - started
    events = _events(engine, outcome.run_id)
    engine.dispose()
    return {
        "wall": wall,
        "cpu_self": time.process_time() - cpu0,
        "status": str(outcome.status),
        "error": outcome.error,
        "pages": outcome.pages,
        "items": outcome.items,
        "requests": sum(traffic.statuses.values()),
        "statuses": {str(k): v for k, v in sorted(traffic.statuses.items())},
        "bytes": traffic.bytes,
        "counts": {"new": outcome.new, "changed": outcome.changed, "removed": outcome.removed},
        "events": events,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _events(engine: object, run_id: int | None) -> dict[str, list[str]]:
    """Item ids (the `i…` of /item/i….html) of each event kind this run recorded."""
    found: dict[str, list[str]] = {}
    if run_id is None:
        return found
    with Session(engine) as session:  # type: ignore[arg-type]
        rows = session.exec(
            select(Event.kind, Item.url).join(Item).where(col(Event.run_id) == run_id)
        ).all()
    for kind, url in rows:
        found.setdefault(str(kind), []).append(url.rsplit("/", 1)[-1].removesuffix(".html"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--enrich", action="store_true")
    args = parser.parse_args()
    after_imports()  # as `radar` does once its imports are done
    result = asyncio.run(crawl(args.base, args.db, enrich=args.enrich))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
