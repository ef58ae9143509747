"""Recording one crawl: diff it against the stored items and write it in one transaction.

Guarded first: a listing that suddenly yields nothing, or far fewer items or filled fields
than usual, is a suspected redesign and records nothing (radar.health decides). Once an
operator has checked such a change, `radar rebaseline` makes the next finished run a silent
baseline, which only the first guard (nothing found at all) still holds back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlmodel import Session

from radar.health import RunStats, baseline_of, coverage, suspicion
from radar.runs import RunOutcome, close_run, finish_failed, outcome_of
from radar.runtime import collector_paused
from radar.triage import Triage, compile_rules
from storage.diff import Diff, diff, entered_from_beyond
from storage.memos import save_memos
from storage.models import EventKind, Run, RunStatus, Source, utcnow
from storage.new_items import RunContext, unassessed
from storage.record import DiffRecorder
from storage.repository import active_rules, stored_items
from storage.source_state import has_finished_baseline, recent_finished_runs

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from radar.relevance import RelevanceSettings
    from scraper.crawl import Crawl
    from scraper.spec import SourceSpec
    from storage.repository import StoredItems


log = logging.getLogger(__name__)


def _status_of(crawl: Crawl, *, baseline: bool) -> RunStatus:
    if baseline:
        return RunStatus.BASELINE
    if not crawl.finished:
        return RunStatus.PARTIAL
    return RunStatus.UNCHANGED if crawl.all_not_modified else RunStatus.OK


def _looks_broken(crawl: Crawl, known_active: int, *, baseline: bool) -> str | None:
    """A listing that yields nothing is a suspected redesign (or wrong selectors), never
    mass removal, and never an empty baseline that would make every real item "new" later."""
    if not crawl.pages_fetched or crawl.items or crawl.carried_keys:
        return None
    if known_active:
        return f"no items found where {known_active} were: suspected layout change"
    if baseline and crawl.finished:
        return "no items found on a first run: check the source's selectors"
    return None


def record_crawl(
    engine: Engine,
    spec: SourceSpec,
    ids: tuple[int, int],
    crawl: Crawl,
    *,
    relevance: RelevanceSettings | None = None,
) -> RunOutcome:
    """Diff the crawl against the stored items and write everything in one transaction."""
    source_id, run_id = ids
    now = utcnow()
    with collector_paused(), Session(engine) as session:
        source = session.get_one(Source, source_id)
        # A silent baseline: the source's first finished run, or one an operator asked for.
        baseline = source.rebaseline or not has_finished_baseline(session, source_id)
        known = _stored(session, source_id, crawl)
        changes = diff(
            known.compared,
            crawl.items,
            carried=crawl.carried_keys,
            complete=crawl.complete,
            active=known.active,
            entering=_entering(crawl, known) if crawl.capped and not baseline else (),
        )
        stats = _stats(crawl, changes)
        active = len(known.active)
        suspicion = _guard(session, source_id, spec, crawl, stats, active, baseline=baseline)
        if suspicion:
            session.rollback()
            finish_failed(engine, run_id, RunStatus.SUSPECT, suspicion, crawl.pages_fetched)
            return RunOutcome(spec.name, run_id, RunStatus.SUSPECT, crawl.pages, error=suspicion)
        context = RunContext(
            source_id=source_id,
            run_id=run_id,
            now=now,
            announce=not baseline,
            assess=unassessed if baseline else _triage(session, spec, relevance),
        )
        DiffRecorder(session, known, context).record(changes)
        if source.rebaseline and crawl.finished:
            source.rebaseline = False
            log.warning(
                "[%s] recorded as a silent baseline, as asked (radar rebaseline)", spec.name
            )
        save_memos(session, source_id, crawl.memos, now=now, prune=crawl.complete)
        outcome = outcome_of(spec, run_id, crawl, changes, _status_of(crawl, baseline=baseline))
        run = session.get_one(Run, run_id)
        close_run(run, crawl, outcome)
        run.coverage = stats.coverage
        session.commit()
    if changes.entered:
        log.info(
            "[%s] %d item(s) moved up into the listing's first %d pages from beyond them: "
            "stored, not announced",
            spec.name,
            len(changes.entered),
            crawl.pages,
        )
    return outcome


def _stored(session: Session, source_id: int, crawl: Crawl) -> StoredItems:
    """The stored items, with the columns a diff compares for those the crawl read: of all
    of them when it read most of the listing, else (most pages answered 304) of just those."""
    read = [item.key for item in crawl.items]
    all_columns = len(read) >= len(crawl.carried_keys)
    return stored_items(session, source_id, read=read, all_columns=all_columns)


def _entering(crawl: Crawl, known: StoredItems) -> frozenset[str]:
    """Identities that moved up into a capped listing's head from beyond it."""
    order = [key for memo in crawl.memos for key in memo.item_keys]
    return entered_from_beyond(order, known.ids)


def _triage(session: Session, spec: SourceSpec, relevance: RelevanceSettings | None) -> Triage:
    """How this run's items are assessed: relevance and the source's suppression rules.

    Not for a silent baseline: its items are never announced, so no feed, digest or review
    list reads their scores, and scoring them was a third of storing a 20,000-item baseline.
    """
    return Triage(relevance, compile_rules(active_rules(session), source=spec.name))


def _stats(crawl: Crawl, changes: Diff) -> RunStats:
    return RunStats(
        items=len(crawl.items) + len(crawl.carried_keys),
        coverage=coverage(crawl.items) if crawl.items else None,
        new=changes.count(EventKind.NEW),
        finished=crawl.finished,
    )


def _guard(
    session: Session,
    source_id: int,
    spec: SourceSpec,
    crawl: Crawl,
    stats: RunStats,
    active: int,
    *,
    baseline: bool,
) -> str | None:
    """Why this run must not be recorded (a suspected redesign), or None; `active` is how
    many stored items were not removed."""
    broken = _looks_broken(crawl, active, baseline=baseline)
    if broken or baseline:
        return broken
    history = [
        RunStats(items=run.items_found, coverage=run.coverage)
        for run in recent_finished_runs(session, source_id)
    ]
    return suspicion(stats, baseline_of(history), spec.health, known_active=active)
