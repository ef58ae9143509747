"""A run is stored on a worker thread: the event loop goes on fetching other sources.

Real HTTP on loopback and real databases; the storing is slowed down on its thread (a
blocking sleep) to make the overlap, concurrent writers and the cancels observable.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

import radar.pipeline
import storage.record
from storage.models import Item, Run, RunStatus
from tests.conftest import cfb_archive, shipped_config
from tests.test_pipeline import crawl

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from radar.fixture_server import FixtureServer
    from radar.pipeline import RunOutcome

PAUSE = 0.5


class SlowStore:
    """record_crawl that sleeps on its thread first (and may then fail)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.real = radar.pipeline.record_crawl
        self.fail = fail
        self.started = threading.Event()
        self.spans: list[tuple[float, float]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> RunOutcome:
        begun = time.monotonic()
        self.started.set()
        time.sleep(PAUSE)
        if self.fail:
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk on fire"))
        try:
            return self.real(*args, **kwargs)
        finally:
            self.spans.append((begun, time.monotonic()))


async def cancel_while_storing(
    server: FixtureServer, engine: Engine, slow: SlowStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crawl the catalogue archive and cancel the run once its storing has begun."""
    monkeypatch.setattr(radar.pipeline, "record_crawl", slow)
    running = asyncio.create_task(crawl(server, engine, [cfb_archive()]))
    await asyncio.to_thread(slow.started.wait, 30)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


def runs_of(engine: Engine) -> list[Run]:
    with Session(engine) as session:
        return list(session.exec(select(Run).order_by(col(Run.id))))


def items_of(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Item)).all())


async def test_the_loop_keeps_running_while_a_run_is_stored(
    fixture_sites: FixtureServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowStore()
    monkeypatch.setattr(radar.pipeline, "record_crawl", slow)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    ticking = asyncio.create_task(ticker())
    [outcome] = await crawl(fixture_sites, engine, [cfb_archive()])
    ticking.cancel()

    assert outcome.status == RunStatus.BASELINE
    [(begun, ended)] = slow.spans
    # On the loop, the blocking sleep would have stopped every tick for half a second.
    assert sum(begun < tick < ended for tick in ticks) >= 5


async def test_two_sources_stored_at_once_both_succeed(
    fixture_sites: FixtureServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each store reads, waits, then writes, on threads of its own: on SQLite the second
    # writer waits for the first one's commit.
    real = storage.record.DiffRecorder.record

    def record_later(self: storage.record.DiffRecorder, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.2)
        real(self, *args, **kwargs)

    monkeypatch.setattr(storage.record.DiffRecorder, "record", record_later)
    config = shipped_config()
    specs = [cfb_archive(), config.source("knoca"), config.source("vive")]

    outcomes = await crawl(fixture_sites, engine, specs)

    assert [outcome.status for outcome in outcomes] == [RunStatus.BASELINE] * 3


async def test_a_cancel_while_storing_waits_for_the_commit(
    fixture_sites: FixtureServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await cancel_while_storing(fixture_sites, engine, SlowStore(), monkeypatch)

    # The transaction was not cut short: the run is stored whole, not marked crashed.
    [run] = runs_of(engine)
    assert run.status == RunStatus.BASELINE
    assert items_of(engine) == 87


async def test_a_cancel_while_a_store_fails_marks_the_run_crashed(
    fixture_sites: FixtureServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await cancel_while_storing(fixture_sites, engine, SlowStore(fail=True), monkeypatch)

    [run] = runs_of(engine)
    assert (run.status, run.error) == (RunStatus.CRASHED, "cancelled while storing")
    assert items_of(engine) == 0
