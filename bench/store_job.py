"""Diff + store of N synthetic items, feed generation, and memory over scheduled runs.

`python -m bench.store_job store --items 100000 --db sqlite|postgresql`: times
radar.recording.record_crawl (load state, diff, one transaction) for a first run of N items
(all inserted as the silent baseline) and for a second run that adds 2 %, edits 1 % and
removes 1 %; prints one JSON line. PostgreSQL uses a scratch database `radar_bench_<pid>`
on 127.0.0.1:5432, dropped afterwards.

`python -m bench.store_job feed --entries 1000`: times build_atom for N entries.

`python -m bench.store_job memory --base URL --runs 100`: the body of the scheduler's job
(a Fetcher, run_sources for one source, write_feeds) `runs` times in one process, against
the site at URL; prints RSS after each run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from radar.items import ExtractedItem, PartialDate, Precision
from radar.runtime import after_imports

if TYPE_CHECKING:
    from collections.abc import Iterator

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def rss_mb() -> float:
    with Path("/proc/self/statm").open() as stream:
        pages = int(stream.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def synthetic_items(
    count: int, *, start: int = 0, edited: frozenset[int] = frozenset()
) -> list[ExtractedItem]:
    items = []
    for number in range(start, start + count):
        url = f"https://example.org/item/{number}.html"
        suffix = " (revideret)" if number in edited else ""
        items.append(
            ExtractedItem(
                key=url,
                url=url,
                title=f"Borgerinddragelse i praksis nr. {number}{suffix}",
                summary=f"Et eksempel på samskabelse og dialog i kommune {number % 98}.",
                category=("Metode", "Case", "Rapport")[number % 3],
                date=PartialDate(dt.date(2020 + number % 6, 1 + number % 12, 1), Precision.DAY),
                language="da",
            )
        )
    return items


@contextlib.contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="radar-bench-db-") as tmp:
            yield f"sqlite:///{tmp}/radar.db"
        return
    import psycopg

    name = f"radar_bench_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def store(count: int, kind: str) -> dict[str, object]:
    from radar.recording import record_crawl
    from radar.runs import start_run
    from scraper.adapters.html import HtmlSpec
    from scraper.crawl import Crawl
    from storage.db import open_database

    spec = HtmlSpec.model_validate(
        {
            "name": "store-bench",
            "kind": "html",
            "url": "https://example.org/list/",
            "item": "li",
            "fields": {"title": "a", "link": "a @href"},
            "health": {"max_new_share": 1.0},
        }
    )
    first_items = synthetic_items(count)
    adds, edits, removes = count * 2 // 100, count // 100, count // 100
    edited = frozenset(range(removes, removes + edits))
    second_items = synthetic_items(adds, start=count) + synthetic_items(
        count - removes, start=removes, edited=edited
    )
    result: dict[str, object] = {"items": count, "db": kind}
    with scratch_database(kind) as url:
        engine = open_database(url)
        for label, items in (("first", first_items), ("second", second_items)):
            crawl = Crawl(items=tuple(items), pages_fetched=count // 20, complete=True)
            ids = start_run(engine, spec)
            started = time.perf_counter()
            outcome = record_crawl(engine, spec, ids, crawl)
            result[label] = time.perf_counter() - started
            result[f"{label}_counts"] = [outcome.new, outcome.changed, outcome.removed]
        engine.dispose()
    expected = [adds, edits, removes]
    result["exact"] = result["second_counts"] == expected
    return result


def feed(count: int) -> dict[str, object]:
    from feeds.atom import FeedEntry, FeedMeta, build_atom, entry_id_for

    now = dt.datetime.now(dt.UTC)
    entries = [
        FeedEntry(
            entry_id=entry_id_for(authority="example.org", source_name="b", item_key=item.key),
            title=item.title,
            link=item.url,
            summary=item.summary,
            source_name="b",
            source_title="Bench",
            category=item.category,
            language="da",
            published=item.date,
            first_seen=now - dt.timedelta(minutes=n),
            updated=now,
            relevance=0.5,
            matched_terms=("borgerinddrag*",),
        )
        for n, item in enumerate(synthetic_items(count))
    ]
    meta = FeedMeta(
        feed_id="tag:example.org,2026:feed:b", title="Bench", subtitle=None, updated=now
    )
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        data = build_atom(meta, entries, max_entries=count)
        timings.append(time.perf_counter() - started)
    timings.sort()
    return {"entries": count, "seconds": timings[len(timings) // 2], "bytes": len(data)}


def memory(base: str, runs: int) -> dict[str, object]:
    from bench.radar_job import crawler_settings, source_spec
    from radar.config import RadarConfig
    from radar.pipeline import run_sources
    from radar.publish import write_feeds
    from scraper.fetch import Fetcher
    from scraper.politeness import HostLimiter
    from storage.db import open_database

    spec = source_spec(base, enrich=True)
    settings = crawler_settings()
    with tempfile.TemporaryDirectory(prefix="radar-bench-mem-") as tmp:
        config = RadarConfig.model_validate(
            {
                "crawler": settings.model_dump(),
                "sources": [source_spec(base, enrich=False, max_pages=100).model_dump()],
                "feed": {"out_dir": tmp},
            }
        )
        config = config.model_copy(update={"sources": (spec,)})
        engine = open_database(f"sqlite:///{tmp}/radar.db")
        # Like radar schedule: one limiter for the process, a Fetcher per job run.
        limiter = HostLimiter(delay=settings.host_delay, concurrency=settings.host_concurrency)

        async def loop() -> list[float]:
            samples = []
            for _ in range(runs):
                async with Fetcher(settings, limiter=limiter) as fetcher:
                    [outcome] = await run_sources([spec], engine=engine, fetcher=fetcher)
                if not outcome.ok:
                    raise SystemExit(f"scheduled run failed: {outcome}")
                await asyncio.to_thread(write_feeds, engine, config, out_dir=Path(tmp) / "feeds")
                samples.append(rss_mb())
            return samples

        samples = asyncio.run(loop())
        engine.dispose()
    return {"runs": runs, "rss_mb": samples}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("store", "feed", "memory"))
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--base")
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    after_imports()  # as `radar` does once its imports are done
    if args.what == "store":
        result = store(args.items, args.db)
    elif args.what == "feed":
        result = feed(args.entries)
    else:
        result = memory(args.base, args.runs)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
