"""One run of one source, as a recipe: start → crawl → record. And many sources at once.

Each source's changes are written in a single transaction (radar.recording), so a failure
or crash keeps the previous state, and one failing source never rolls back another.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session

from radar.enrich import enrich
from radar.errors import RadarError
from radar.logs import log_context
from radar.recording import record_crawl
from radar.runs import (
    RunOutcome,
    finish_failed,
    finished_dispatch,
    settle,
    start_run,
)
from scraper import listing_worker
from scraper.adapters import adapter_for
from scraper.listing_worker import ListingWorker
from storage.locks import source_lock
from storage.memos import load_memos
from storage.models import RunStatus
from storage.repository import stored_items

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sqlalchemy.engine import Engine

    from radar.relevance import RelevanceSettings
    from scraper.crawl import Crawl
    from scraper.fetch import Fetcher
    from scraper.spec import SourceSpec

__all__ = ["RunOutcome", "record_crawl", "run_source", "run_sources", "start_run"]

log = logging.getLogger(__name__)
SKIPPED_MESSAGE = "another run of this source is in progress"


async def run_source(
    spec: SourceSpec,
    *,
    engine: Engine,
    fetcher: Fetcher,
    relevance: RelevanceSettings | None = None,
    dispatch_id: str | None = None,
) -> RunOutcome:
    """The recipe for one source: start, crawl, diff and record; then settle its health.

    Never two runs of one source at once, in any process: the second one skips it.
    A worker's run carries its task's `dispatch_id`; a task already run is not run again.
    """
    with log_context(source=spec.name), source_lock(engine, spec.name) as mine:
        if not mine:
            log.warning("[%s] skipped: another run of this source is in progress", spec.name)
            return RunOutcome(spec.name, None, RunStatus.SKIPPED, error=SKIPPED_MESSAGE)
        if dispatch_id is not None and (done := finished_dispatch(engine, spec, dispatch_id)):
            log.info("[%s] dispatch %s already ran as run %s", spec.name, dispatch_id, done.run_id)
            return done
        ids = start_run(engine, spec, dispatch_id=dispatch_id)
        with log_context(run_id=ids[1]):
            outcome = await _crawl_and_record(
                spec, ids, engine=engine, fetcher=fetcher, relevance=relevance
            )
            settle(engine, spec, ids[0], outcome)
        return outcome


async def _crawl_and_record(
    spec: SourceSpec,
    ids: tuple[int, int],
    *,
    engine: Engine,
    fetcher: Fetcher,
    relevance: RelevanceSettings | None,
) -> RunOutcome:
    with Session(engine) as session:
        memos = load_memos(session, ids[0])
    try:
        crawl = await adapter_for(spec.kind).crawl(spec, fetcher=fetcher, memos=memos)
    except RadarError as exc:
        # An adapter that gives up before its page walk (a lookup, a malformed answer).
        finish_failed(engine, ids[1], RunStatus.FAILED, str(exc), 0)
        return RunOutcome(spec.name, ids[1], RunStatus.FAILED, error=str(exc))
    except asyncio.CancelledError:
        # Stopped mid-crawl (radar schedule on SIGTERM): nothing was stored; say so now.
        finish_failed(engine, ids[1], RunStatus.CRASHED, "cancelled while crawling", 0)
        raise
    for note in crawl.notes:
        log.info("[%s] %s", spec.name, note)
    if spec.enrich is not None and crawl.items:  # pages answered 304 hold nothing to fill
        crawl = await _enriched(spec, crawl, ids[0], engine=engine, fetcher=fetcher)
    if crawl.error is not None and not crawl.items and not crawl.carried_keys:
        finish_failed(engine, ids[1], RunStatus.FAILED, str(crawl.error), 0)
        return RunOutcome(spec.name, ids[1], RunStatus.FAILED, error=str(crawl.error))
    try:
        return await _stored(engine, spec, ids, crawl, relevance=relevance)
    except sa.exc.SQLAlchemyError as exc:
        log.exception("[%s] could not store run %d", spec.name, ids[1])
        finish_failed(engine, ids[1], RunStatus.FAILED, f"storage: {exc}", crawl.pages)
        return RunOutcome(spec.name, ids[1], RunStatus.FAILED, error=f"storage: {exc}")
    except asyncio.CancelledError:
        raise  # _stored let the transaction end and said how on the run
    except BaseException as exc:
        # Cancelled or a bug: the item state is rolled back; say so on the run, then go on up.
        finish_failed(engine, ids[1], RunStatus.CRASHED, f"{type(exc).__name__}: {exc}", 0)
        raise


async def _enriched(
    spec: SourceSpec, crawl: Crawl, source_id: int, *, engine: Engine, fetcher: Fetcher
) -> Crawl:
    """The crawl with its items' detail pages read; what the store knew of them is let go
    on return, before the run is stored (the run's memory peak)."""
    with Session(engine) as session:
        read = [item.key for item in crawl.items]
        known = stored_items(session, source_id, read=read, all_columns=False).compared
    return await enrich(spec, crawl, fetcher=fetcher, known=known)


async def _stored(
    engine: Engine,
    spec: SourceSpec,
    ids: tuple[int, int],
    crawl: Crawl,
    *,
    relevance: RelevanceSettings | None,
) -> RunOutcome:
    """record_crawl on a worker thread, so the event loop goes on fetching other sources.

    A transaction on a thread cannot be cut short: a cancel (radar schedule stopping) waits
    for it to commit or roll back, marks a rolled-back run crashed, then goes on up.
    """

    # Two runs stored at once on SQLite take turns at the write lock (its busy timeout).
    storing = asyncio.ensure_future(
        asyncio.to_thread(record_crawl, engine, spec, ids, crawl, relevance=relevance)
    )
    try:
        return await asyncio.shield(storing)
    except asyncio.CancelledError:
        await asyncio.wait([storing])
        if storing.cancelled() or storing.exception() is not None:
            finish_failed(engine, ids[1], RunStatus.CRASHED, "cancelled while storing", 0)
        raise


async def _guarded(
    spec: SourceSpec, *, engine: Engine, fetcher: Fetcher, relevance: RelevanceSettings | None
) -> RunOutcome:
    # The top of one source's run: whatever goes wrong stays with this source.
    try:
        return await run_source(spec, engine=engine, fetcher=fetcher, relevance=relevance)
    except RadarError as exc:
        log.error("[%s] run failed: %s", spec.name, exc)
        return RunOutcome(spec.name, None, RunStatus.FAILED, error=str(exc))
    except Exception as exc:
        log.exception("[%s] run crashed", spec.name)
        return RunOutcome(spec.name, None, RunStatus.CRASHED, error=f"{type(exc).__name__}: {exc}")


async def run_sources(
    specs: Iterable[SourceSpec],
    *,
    engine: Engine,
    fetcher: Fetcher,
    on_done: Callable[[RunOutcome], None] | None = None,
    relevance: RelevanceSettings | None = None,
) -> list[RunOutcome]:
    """Run every source concurrently (the fetcher keeps each host polite); keep config order.

    Their listing walks share one extraction worker (scraper.listing_worker) when the
    crawler settings want one: the one the caller serves (radar schedule's, for its whole
    life), or one for this call.
    """

    async def one(spec: SourceSpec) -> RunOutcome:
        outcome = await _guarded(spec, engine=engine, fetcher=fetcher, relevance=relevance)
        if on_done is not None:
            on_done(outcome)
        return outcome

    worker = None
    if fetcher.settings.wants_extraction_worker:
        worker = listing_worker.current() or ListingWorker()
    with listing_worker.serving(worker):
        return list(await asyncio.gather(*(one(spec) for spec in specs)))
