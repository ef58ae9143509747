"""Dispatch mode as an operator runs it, the idempotent run, and single-machine mode alone.

`radar schedule --dispatch` and `radar worker` as subprocesses (RabbitMQ, Redis, SQLite):
sources on a one-second schedule are enqueued, run by the worker, and the feeds follow;
SIGTERM stops the scheduler with exit 0. A task delivered twice runs once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session, col, select

from radar.fixture_server import Fault, FixtureServer
from radar.pipeline import run_source
from scraper.fetch import Fetcher
from storage.models import Run, RunStatus
from tests.conftest import ROOT, fast_crawler
from tests.distributed_support import (
    AMQP_URL,
    REDIS_BROKER_URL,
    REDIS_URL,
    Namespace,
    Synthetic,
    Workers,
    forget,
    held_page_taken,
    need,
    wait_until,
    workers,
    write_config,
)

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

__all__ = ["workers"]  # the fixture


def dispatched_runs(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.exec(
            select(Run.dispatch_id).where(
                col(Run.dispatch_id).is_not(None), col(Run.status) != RunStatus.RUNNING
            )
        ).all()
    return {"runs": len(rows), "dispatches": len(set(rows))}


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_schedule_dispatch_enqueues_runs_for_the_workers_and_writes_feeds(
    sqlite_engine: Engine, tmp_path: Path, workers: Workers, broker: str
) -> None:
    need("RabbitMQ", "127.0.0.1", 5672)
    need("Redis", "127.0.0.1", 6379)
    broker_url = AMQP_URL if broker == "rabbitmq" else REDIS_BROKER_URL
    namespace = Namespace.fresh()
    synthetic = Synthetic(tmp_path / "sites", 3, 3)
    synthetic.write()
    sources = [{**source, "schedule": "every 1s"} for source in synthetic.sources()]
    config = write_config(
        tmp_path / "config.yaml",
        sources,
        namespace,
        crawler={"host_delay": 0},
        distributed={"feeds_every": 1},
    )
    database = sqlite_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "RADAR_DATABASE_URL": database, "RADAR_BROKER_URL": broker_url}
    scheduler = None
    try:
        with FixtureServer(tmp_path / "sites", snapshot="snapshot-1") as server:
            workers.start(
                "w1",
                config=config,
                engine=sqlite_engine,
                log_dir=tmp_path,
                args=synthetic.resolve(server),
                broker_url=broker_url,
            )
            command = [sys.executable, "-m", "radar", "--log-level", "info", "schedule"]
            scheduler = subprocess.Popen(
                [*command, "--dispatch", "--config", str(config)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            # Two rounds of every source, each its own dispatch, and feeds written after.
            wait_until(lambda: dispatched_runs(sqlite_engine)["dispatches"] >= 6, "six runs")
            wait_until(lambda: (tmp_path / "feeds" / "new.atom").exists(), "the feeds")
            scheduler.send_signal(signal.SIGTERM)
            _, err = scheduler.communicate(timeout=30)
    finally:
        if scheduler is not None and scheduler.poll() is None:
            scheduler.kill()
        workers.kill()
        forget(namespace, broker_url=broker_url)

    assert scheduler.returncode == 0, err
    assert "dispatched as" in err
    counts = dispatched_runs(sqlite_engine)
    assert counts["runs"] == counts["dispatches"]  # one run per dispatch
    assert "guest:guest" not in err  # the broker's password is never logged


async def test_a_task_delivered_again_after_its_run_finished_is_not_run_twice(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    synthetic = Synthetic(tmp_path / "sites", 1, 1)
    synthetic.write()
    from radar.config import RadarConfig

    config = RadarConfig.model_validate(
        {"crawler": fast_crawler().model_dump(), "sources": synthetic.sources()}
    )
    [spec] = config.sources
    with FixtureServer(tmp_path / "sites", snapshot="snapshot-1") as server:
        host_map = {synthetic.host(0): server.address}
        async with Fetcher(config.crawler, host_map=host_map) as fetcher:
            first = await run_source(spec, engine=sqlite_engine, fetcher=fetcher, dispatch_id="d1")
            server.clear_requests()
            again = await run_source(spec, engine=sqlite_engine, fetcher=fetcher, dispatch_id="d1")
            fetched_again = len(server.requests)
            other = await run_source(spec, engine=sqlite_engine, fetcher=fetcher, dispatch_id="d2")

    assert first.status is RunStatus.BASELINE
    assert (again.run_id, again.status, again.items) == (first.run_id, first.status, first.items)
    assert fetched_again == 0
    assert other.status is RunStatus.UNCHANGED and other.run_id != first.run_id
    with Session(sqlite_engine) as session:
        dispatches = session.exec(select(Run.dispatch_id).order_by(col(Run.id))).all()
    assert dispatches == ["d1", "d2"]


def test_single_machine_mode_imports_no_task_engine() -> None:
    code = (
        "import sys, radar.cli, radar.config, radar.schedule\n"
        "loaded = {'celery', 'kombu', 'redis', 'limits'} & {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_worker_without_broker_url_is_a_config_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RADAR_BROKER_URL",)}
    env["RADAR_REDIS_URL"] = REDIS_URL
    result = subprocess.run(
        [sys.executable, "-m", "radar", "worker", "--config", str(ROOT / "config.yaml")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "RADAR_BROKER_URL" in result.stderr


def test_sigterm_lets_a_worker_finish_its_running_source_then_exit_0(
    sqlite_engine: Engine, tmp_path: Path, workers: Workers
) -> None:
    need("RabbitMQ", "127.0.0.1", 5672)
    need("Redis", "127.0.0.1", 6379)
    from radar.config import load_config
    from radar.distributed.dispatch import dispatcher_for

    namespace = Namespace.fresh()
    synthetic = Synthetic(tmp_path / "sites", 1, 1)
    synthetic.write()
    config = write_config(tmp_path / "config.yaml", synthetic.sources(), namespace, crawler={})
    dispatcher = dispatcher_for(load_config(config), broker_url=AMQP_URL)
    try:
        with FixtureServer(tmp_path / "sites", snapshot="snapshot-1") as server:
            page = Fault(200, body=synthetic.listing(0), delay=2.0)
            server.script(synthetic.host(0), synthetic.path(0), [page])
            worker = workers.start(
                "w1",
                config=config,
                engine=sqlite_engine,
                log_dir=tmp_path,
                args=synthetic.resolve(server),
            )
            dispatch_id = dispatcher.dispatch(synthetic.name(0))
            wait_until(
                lambda: held_page_taken(server, synthetic.host(0), synthetic.path(0)), "the page"
            )
            worker.process.send_signal(signal.SIGTERM)
            worker.process.wait(timeout=60)
    finally:
        workers.kill()
        forget(namespace)

    assert worker.process.returncode == 0, worker.text()
    with Session(sqlite_engine) as session:
        run = session.exec(select(Run).where(col(Run.dispatch_id) == dispatch_id)).one()
    assert run.status == RunStatus.BASELINE
