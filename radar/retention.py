"""Pruning what is only bookkeeping, so a radar running for years stays small.

Items, their versions and their events are the editors' history and are never pruned.
What goes:

- Run rows older than `retention.runs_days` that nothing refers to (events, item versions),
  except, per source, the newest run and the last finished successful runs (the usual
  that health compares with, and the proof that the silent baseline is done);
- page memos of pages not seen for `retention.memo_days` (a memo only saves a request).

Run by `radar prune` and daily by `radar schedule`, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from storage.models import PageMemo, Run, RunStatus, Source, utcnow
from storage.repository import in_chunks
from storage.source_state import recent_finished_runs

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from radar.settings_ops import RetentionSettings

log = logging.getLogger(__name__)

KEEP_FINISHED_RUNS = 5  # as many as storage.source_state.recent_finished_runs compares with
CHUNK = 500


@dataclass(frozen=True, slots=True)
class PruneReport:
    runs: int
    memos: int


def prune(
    engine: Engine,
    settings: RetentionSettings,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Delete old runs without events and stale page memos; with `dry_run`, only count."""
    now = now or utcnow()
    with Session(engine) as session:
        runs = _prunable_runs(session, now - dt.timedelta(days=settings.runs_days))
        memo_cutoff = now - dt.timedelta(days=settings.memo_days)
        stale_memos = sa.delete(PageMemo).where(col(PageMemo.updated_at) < memo_cutoff)
        if dry_run:
            memos = session.exec(
                select(sa.func.count()).where(col(PageMemo.updated_at) < memo_cutoff)
            ).one()
            return PruneReport(runs=len(runs), memos=int(memos))
        for chunk in in_chunks(runs, CHUNK):
            session.execute(sa.delete(Run).where(col(Run.id).in_(chunk)))
        memos = int(getattr(session.execute(stale_memos), "rowcount", 0) or 0)
        session.commit()
    report = PruneReport(runs=len(runs), memos=memos)
    log.info("pruned %d old run(s) and %d stale page memo(s)", report.runs, report.memos)
    return report


def _prunable_runs(session: Session, cutoff: dt.datetime) -> list[int]:
    statement = select(Run.id).where(
        col(Run.started_at) < cutoff, col(Run.status) != RunStatus.RUNNING
    )
    for column in _run_references():
        statement = statement.where(col(Run.id).not_in(sa.select(column).distinct()))
    candidates = session.exec(statement).all()
    keep = _kept_runs(session)
    return [run_id for run_id in candidates if run_id is not None and run_id not in keep]


def _run_references() -> list[sa.Column[Any]]:
    """Every column that refers to a run (today Event.run_id and ItemVersion.run_id)."""
    run_table = sa.inspect(Run).local_table
    return [
        foreign.parent
        for table in SQLModel.metadata.tables.values()
        for foreign in table.foreign_keys
        if foreign.column.table is run_table
    ]


def _kept_runs(session: Session) -> set[int]:
    """Per source: the newest run and the runs health compares with."""
    keep: set[int] = set()
    for source_id in session.exec(select(Source.id)).all():
        assert source_id is not None
        newest = session.exec(
            select(Run.id).where(Run.source_id == source_id).order_by(col(Run.id).desc())
        ).first()
        if newest is not None:
            keep.add(newest)
        keep.update(
            run.id
            for run in recent_finished_runs(session, source_id, limit=KEEP_FINISHED_RUNS)
            if run.id is not None
        )
    return keep
