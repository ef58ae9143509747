"""Retention: old bookkeeping goes, the editors' history and the health baseline stay."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from radar.retention import prune
from radar.runs import finish_failed, start_run
from radar.settings_ops import RetentionSettings
from storage.models import Event, Item, ItemVersion, PageMemo, Run, RunStatus, utcnow
from storage.repository import digest
from tests.db_fixtures import SOURCE_URL, html_spec, make_item, record

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

OLD = utcnow() - dt.timedelta(days=200)
SETTINGS = RetentionSettings(runs_days=180, memo_days=90)


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            table.__name__: session.exec(select(sa.func.count()).select_from(table)).one()
            for table in (Run, Event, Item, ItemVersion, PageMemo)
        }


def _history(engine: Engine) -> list[int]:
    """Eleven runs, all 200 days old: 1 baseline, 2-8 unchanged, 9 new, 10 failed, 11 same."""
    spec = html_spec()
    a, b = make_item("a"), make_item("b")
    record(engine, spec, [a])
    for _ in range(7):
        record(engine, spec, [a])
    record(engine, spec, [a, b])
    finish_failed(engine, start_run(engine, spec)[1], RunStatus.FAILED, "HTTP 503", 0)
    record(engine, spec, [a, b])
    with Session(engine) as session:
        session.execute(sa.update(Run).values(started_at=OLD, finished_at=OLD))
        source_id = session.exec(select(Run.source_id)).first()
        assert source_id is not None
        stale = "https://example.dk/inspiration/?page=9"
        session.add(PageMemo(source_id=source_id, url=stale, url_hash=digest(stale)))
        session.execute(
            sa.update(PageMemo).where(col(PageMemo.url) == stale).values(updated_at=OLD)
        )
        session.commit()
        return [run_id for run_id in session.exec(select(Run.id).order_by(col(Run.id)))]


def test_old_runs_without_events_go_and_history_stays(engine: Engine) -> None:
    ids = _history(engine)
    before = _counts(engine)

    report = prune(engine, SETTINGS)

    with Session(engine) as session:
        kept = list(session.exec(select(Run.id).order_by(col(Run.id))))
        memos = list(session.exec(select(PageMemo.url)))
    # 9 has an event (nothing was ever replaced: no versions); 6-9 and 11 are the last five
    # complete runs. The silent baseline, 1, is referred to by nothing and goes.
    assert kept == [ids[5], ids[6], ids[7], ids[8], ids[10]]
    assert (report.runs, report.memos) == (6, 1)
    assert memos == [SOURCE_URL]
    after = _counts(engine)
    assert after == {**before, "Run": before["Run"] - 6, "PageMemo": before["PageMemo"] - 1}


def test_after_pruning_the_source_is_still_past_its_silent_baseline(engine: Engine) -> None:
    _history(engine)
    prune(engine, SETTINGS)

    outcome = record(engine, html_spec(), [make_item("a"), make_item("b"), make_item("c")])

    assert (outcome.status, outcome.new) == (RunStatus.OK, 1)


def test_a_dry_run_counts_and_deletes_nothing(sqlite_engine: Engine) -> None:
    _history(sqlite_engine)
    before = _counts(sqlite_engine)

    report = prune(sqlite_engine, SETTINGS, dry_run=True)

    assert (report.runs, report.memos) == (6, 1)
    assert _counts(sqlite_engine) == before


def test_recent_runs_are_kept_whatever_they_hold(sqlite_engine: Engine) -> None:
    spec = html_spec()
    for _ in range(8):
        record(sqlite_engine, spec, [make_item("a")])

    assert prune(sqlite_engine, SETTINGS).runs == 0
