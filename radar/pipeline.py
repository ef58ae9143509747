"""One run of one source, as a recipe: start → crawl → diff → record. And many sources at once.

Each source's changes are written in a single transaction, so a failure or crash keeps the
previous state, and one failing source never rolls back another.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session

from radar.errors import RadarError
from scraper.adapters import adapter_for
from storage.diff import Diff, diff
from storage.models import EventKind, Run, RunStatus, utcnow
from storage.record import DiffRecorder, RunContext
from storage.repository import (
    ensure_source,
    has_complete_baseline,
    items_by_key,
    known_items,
    load_memos,
    mark_crashed_runs,
    save_memos,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sqlalchemy.engine import Engine

    from scraper.crawl import Crawl
    from scraper.fetch import Fetcher
    from scraper.spec import SourceSpec

log = logging.getLogger(__name__)

FAILING_STATUSES = frozenset({RunStatus.FAILED, RunStatus.CRASHED, RunStatus.SUSPECT})


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """The result of one run of one source: what the CLI prints and the exit code depends on."""

    source: str
    run_id: int | None
    status: RunStatus
    pages: int = 0
    items: int = 0
    skipped: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    reappeared: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status not in FAILING_STATUSES and self.status is not RunStatus.PARTIAL


def start_run(engine: Engine, spec: SourceSpec) -> tuple[int, int]:
    """Record that a run began (its own small transaction); return (source id, run id)."""
    with Session(engine) as session:
        source = ensure_source(
            session, name=spec.name, title=spec.display_title, kind=spec.kind, url=spec.url
        )
        assert source.id is not None
        crashed = mark_crashed_runs(session, source.id)
        if crashed:
            log.warning("[%s] %d earlier run(s) had crashed", spec.name, crashed)
        run = Run(source_id=source.id, started_at=utcnow())
        session.add(run)
        session.commit()
        assert run.id is not None
        return source.id, run.id


def finish_failed(engine: Engine, run_id: int, status: RunStatus, error: str, pages: int) -> None:
    """Close a run that changed nothing, in a transaction of its own."""
    with Session(engine) as session:
        run = session.get_one(Run, run_id)
        run.status, run.error, run.finished_at = status, error[:4000], utcnow()
        run.pages_fetched = pages
        session.add(run)
        session.commit()


def _status_of(crawl: Crawl, *, baseline: bool) -> RunStatus:
    if baseline:
        return RunStatus.BASELINE
    if not crawl.complete:
        return RunStatus.PARTIAL
    return RunStatus.UNCHANGED if crawl.all_not_modified else RunStatus.OK


def _looks_broken(crawl: Crawl, known_active: int, *, baseline: bool) -> str | None:
    """A listing that yields nothing is a suspected redesign (or wrong selectors), never
    mass removal, and never an empty baseline that would make every real item "new" later."""
    if not crawl.pages_fetched or crawl.items or crawl.carried_keys:
        return None
    if known_active:
        return f"no items found where {known_active} were: suspected layout change"
    if baseline and crawl.complete:
        return "no items found on a first run: check the source's selectors"
    return None


def record_crawl(
    engine: Engine, spec: SourceSpec, ids: tuple[int, int], crawl: Crawl
) -> RunOutcome:
    """Diff the crawl against the stored items and write everything in one transaction."""
    source_id, run_id = ids
    now = utcnow()
    with Session(engine) as session:
        baseline = not has_complete_baseline(session, source_id)
        items = items_by_key(session, source_id)
        known = known_items(items)
        active = sum(1 for k in known.values() if not k.removed)
        suspicion = _looks_broken(crawl, active, baseline=baseline)
        if suspicion:
            session.rollback()
            finish_failed(engine, run_id, RunStatus.SUSPECT, suspicion, crawl.pages_fetched)
            return RunOutcome(spec.name, run_id, RunStatus.SUSPECT, crawl.pages, error=suspicion)
        changes = diff(known, crawl.items, carried=crawl.carried_keys, complete=crawl.complete)
        context = RunContext(source_id=source_id, run_id=run_id, now=now, announce=not baseline)
        DiffRecorder(session, items, context).record(
            changes, carried=crawl.carried_keys, complete=crawl.complete
        )
        save_memos(session, source_id, crawl.memos, now=now, prune=crawl.complete)
        outcome = _outcome(spec, run_id, crawl, changes, _status_of(crawl, baseline=baseline))
        _close_run(session.get_one(Run, run_id), crawl, outcome)
        session.commit()
    return outcome


def _outcome(
    spec: SourceSpec, run_id: int, crawl: Crawl, changes: Diff, status: RunStatus
) -> RunOutcome:
    counted = status is not RunStatus.BASELINE
    return RunOutcome(
        source=spec.name,
        run_id=run_id,
        status=status,
        pages=crawl.pages,
        items=len(crawl.items) + len(crawl.carried_keys),
        skipped=crawl.skipped,
        new=changes.count(EventKind.NEW) if counted else 0,
        changed=changes.count(EventKind.CHANGED) if counted else 0,
        removed=changes.count(EventKind.REMOVED) if counted else 0,
        reappeared=changes.count(EventKind.REAPPEARED) if counted else 0,
        error=str(crawl.error) if crawl.error else None,
    )


def _close_run(run: Run, crawl: Crawl, outcome: RunOutcome) -> None:
    run.status = outcome.status
    run.finished_at = utcnow()
    run.complete = crawl.complete
    run.pages_fetched, run.pages_not_modified = crawl.pages_fetched, crawl.pages_not_modified
    run.items_found, run.items_skipped = outcome.items, outcome.skipped
    run.new, run.changed = outcome.new, outcome.changed
    run.removed, run.reappeared = outcome.removed, outcome.reappeared
    run.error = outcome.error


async def run_source(spec: SourceSpec, *, engine: Engine, fetcher: Fetcher) -> RunOutcome:
    """The recipe for one source: start, crawl, then diff and record — or record the failure."""
    ids = start_run(engine, spec)
    with Session(engine) as session:
        memos = load_memos(session, ids[0])
    crawl = await adapter_for(spec.kind).crawl(spec, fetcher=fetcher, memos=memos)
    if crawl.error is not None and crawl.pages == 0:
        finish_failed(engine, ids[1], RunStatus.FAILED, str(crawl.error), 0)
        return RunOutcome(spec.name, ids[1], RunStatus.FAILED, error=str(crawl.error))
    try:
        return record_crawl(engine, spec, ids, crawl)
    except sa.exc.SQLAlchemyError as exc:
        log.exception("[%s] could not store run %d", spec.name, ids[1])
        finish_failed(engine, ids[1], RunStatus.FAILED, f"storage: {exc}", crawl.pages)
        return RunOutcome(spec.name, ids[1], RunStatus.FAILED, error=f"storage: {exc}")
    except BaseException as exc:
        # Cancelled or a bug: the item state is rolled back; say so on the run, then go on up.
        finish_failed(engine, ids[1], RunStatus.CRASHED, f"{type(exc).__name__}: {exc}", 0)
        raise


async def _guarded(spec: SourceSpec, *, engine: Engine, fetcher: Fetcher) -> RunOutcome:
    # The top of one source's run: whatever goes wrong stays with this source.
    try:
        return await run_source(spec, engine=engine, fetcher=fetcher)
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
) -> list[RunOutcome]:
    """Run every source concurrently (the fetcher keeps each host polite); keep config order."""

    async def one(spec: SourceSpec) -> RunOutcome:
        outcome = await _guarded(spec, engine=engine, fetcher=fetcher)
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(spec) for spec in specs)))
