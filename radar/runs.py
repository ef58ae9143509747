"""Bookkeeping of runs: starting and closing Run rows, outcomes, and each source's health.

Small transactions of their own, apart from the one transaction that records a run's
items, so a run that fails or crashes is still on record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from radar import alerts
from radar.health import Health, next_health
from storage.models import EventKind, Run, RunStatus, Source, utcnow
from storage.source_state import ensure_source, mark_crashed_runs, settle_health

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Engine

    from scraper.crawl import Crawl
    from scraper.spec import SourceSpec
    from storage.diff import Diff

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


def start_run(
    engine: Engine, spec: SourceSpec, *, dispatch_id: str | None = None
) -> tuple[int, int]:
    """Record that a run began (its own small transaction); return (source id, run id).

    `dispatch_id` names the queued task a worker runs it for (radar.distributed).
    """
    with Session(engine) as session:
        source = ensure_source(
            session, name=spec.name, title=spec.display_title, kind=spec.kind, url=spec.url
        )
        assert source.id is not None
        crashed = mark_crashed_runs(session, source.id)
        if crashed:
            log.warning("[%s] %d earlier run(s) had crashed", spec.name, crashed)
        run = Run(source_id=source.id, started_at=utcnow(), dispatch_id=dispatch_id)
        session.add(run)
        session.commit()
        assert run.id is not None
        return source.id, run.id


def finished_dispatch(engine: Engine, spec: SourceSpec, dispatch_id: str) -> RunOutcome | None:
    """The outcome of the run already finished for this dispatched task, if any: a task
    redelivered after its worker died is then not run twice. A crashed run does not count."""
    unfinished = (RunStatus.RUNNING, RunStatus.CRASHED)
    with Session(engine) as session:
        run = session.exec(
            select(Run)
            .where(col(Run.dispatch_id) == dispatch_id, col(Run.status).not_in(unfinished))
            .order_by(col(Run.id).desc())
        ).first()
    if run is None:
        return None
    return RunOutcome(
        source=spec.name,
        run_id=run.id,
        status=RunStatus(run.status),
        pages=run.pages_fetched,
        items=run.items_found,
        skipped=run.items_skipped,
        new=run.new,
        changed=run.changed,
        removed=run.removed,
        reappeared=run.reappeared,
        error=run.error,
    )


def finish_failed(engine: Engine, run_id: int, status: RunStatus, error: str, pages: int) -> None:
    """Close a run that changed nothing, in a transaction of its own."""
    with Session(engine) as session:
        run = session.get_one(Run, run_id)
        run.status, run.error, run.finished_at = status, error[:4000], utcnow()
        run.pages_fetched = pages
        session.add(run)
        session.commit()


def outcome_of(
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


def close_run(run: Run, crawl: Crawl, outcome: RunOutcome) -> None:
    run.status = outcome.status
    run.finished_at = utcnow()
    run.complete, run.capped = crawl.complete, crawl.capped
    run.pages_fetched, run.pages_not_modified = crawl.pages_fetched, crawl.pages_not_modified
    run.items_found, run.items_skipped = outcome.items, outcome.skipped
    run.new, run.changed = outcome.new, outcome.changed
    run.removed, run.reappeared = outcome.removed, outcome.reappeared
    run.error = outcome.error


def request_rebaseline(engine: Engine, names: Sequence[str]) -> list[str]:
    """Make the next finished run of each named source a silent baseline; return the names
    that have run before (a source never run gets a silent baseline anyway)."""
    with Session(engine) as session:
        sources = session.exec(select(Source).where(col(Source.name).in_(names))).all()
        for source in sources:
            source.rebaseline = True
            session.add(source)
        known = [source.name for source in sources]
        session.commit()
    return known


def settle(engine: Engine, spec: SourceSpec, source_id: int, outcome: RunOutcome) -> None:
    """Move the source's health on; a change is an operations event: logged and alerted."""
    with Session(engine) as session:
        source = session.get_one(Source, source_id)
        health, failures = next_health(
            Health(source.health), source.failures, run_ok=outcome.ok, rule=spec.health
        )
        previous = settle_health(session, source_id, health=health, failures=failures, now=utcnow())
        session.commit()
    if previous is not None:
        level = logging.INFO if outcome.ok else logging.WARNING
        log.log(
            level,
            "[%s] health %s -> %s: %s",
            spec.name,
            previous,
            health,
            outcome.error or outcome.status,
        )
        alerts.health_changed(spec, outcome, previous=previous, current=health, failures=failures)
