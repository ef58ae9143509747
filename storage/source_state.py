"""A source's row and what its runs so far say: its health, whether its silent baseline is
done, the usual runs a new one is compared with, and runs a dead process left running."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.models import SUCCESSFUL_RUNS, Run, RunStatus, Source

if TYPE_CHECKING:
    import datetime as dt


def ensure_source(session: Session, *, name: str, title: str, kind: str, url: str) -> Source:
    """The Source row for `name`, created or brought in line with config."""
    source = session.exec(select(Source).where(Source.name == name)).first()
    if source is None:
        source = Source(name=name, title=title, kind=kind, url=url)
    else:
        source.title, source.kind, source.url = title, kind, url
    session.add(source)
    session.flush()
    return source


def mark_crashed_runs(session: Session, source_id: int) -> int:
    """Runs still RUNNING when a new one starts died with their process; say so."""
    result = session.execute(
        sa.update(Run)
        .where(col(Run.source_id) == source_id, col(Run.status) == RunStatus.RUNNING)
        .values(status=RunStatus.CRASHED, error="the process ended before the run finished")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _finished() -> sa.ColumnElement[bool]:
    """A run that read all it set out to read (Crawl.finished)."""
    return sa.or_(col(Run.complete).is_(True), col(Run.capped).is_(True))


def has_finished_baseline(session: Session, source_id: int) -> bool:
    """True once a finished successful run exists (complete, or capped at max_pages): before
    that, every run is a silent baseline."""
    statement = select(Run.id).where(
        col(Run.source_id) == source_id,
        _finished(),
        col(Run.status).in_([str(status) for status in SUCCESSFUL_RUNS]),
    )
    return session.exec(statement.limit(1)).first() is not None


def recent_finished_runs(session: Session, source_id: int, *, limit: int = 5) -> list[Run]:
    """The last successful finished runs of a source since its latest baseline, newest first:
    the usual to compare with. A baseline starts the usual afresh: after `radar rebaseline`,
    the site as it was before the redesign is not what the next runs are measured by."""
    usual = [RunStatus.OK, RunStatus.UNCHANGED, RunStatus.BASELINE]
    latest_baseline = (
        select(sa.func.coalesce(sa.func.max(col(Run.id)), 0))
        .where(
            col(Run.source_id) == source_id,
            col(Run.status) == str(RunStatus.BASELINE),
            _finished(),
        )
        .scalar_subquery()
    )
    statement = (
        select(Run)
        .where(
            col(Run.source_id) == source_id,
            _finished(),
            col(Run.status).in_([str(status) for status in usual]),
            col(Run.id) >= latest_baseline,
        )
        .order_by(col(Run.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement))


def settle_health(
    session: Session, source_id: int, *, health: str, failures: int, now: dt.datetime
) -> str | None:
    """Store a source's health; return the previous health when it changed."""
    source = session.get_one(Source, source_id)
    previous = source.health
    source.health, source.failures = health, failures
    if previous != health:
        source.health_since = now
    session.add(source)
    return previous if previous != health else None
