"""`radar schedule`: a real APScheduler on short intervals against the loopback fixture sites.

In-process tests run the daemon on the test's event loop (polling the database with
asyncio.sleep between looks); the signal tests run `python -m radar schedule` as an
operator would, and poll its database and log with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlmodel import Session, col, select

from radar.config import load_config, parse_config
from radar.errors import ConfigError
from radar.schedule import PRUNE_JOB, SOURCE_JOB, Daemon, plan
from radar.settings_ops import crontab_weekdays, parse_schedule
from storage.db import make_engine
from storage.models import Run, RunStatus, Source
from tests.conftest import ROOT

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from radar.fixture_server import FixtureServer
    from radar.metrics import Metrics

GONE = {
    "name": "gone",
    "kind": "html",
    "url": "https://centerforborgerdialog.dk/gone/",
    "item": "li",
    "fields": {"title": "a", "link": "a @href"},
}
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def daemon_config(
    tmp_path: Path,
    *,
    sources: Iterable[str] = ("knoca",),
    extra: Iterable[dict[str, Any]] = (),
    scheduler: dict[str, Any] | None = None,
    **sections: Any,
) -> Path:
    """The shipped config, cut down to some of its sources, on a one-second schedule."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw.pop("catalogue", None)
    raw["crawler"]["host_delay"] = 0
    raw["feed"]["out_dir"] = str(tmp_path / "feeds")
    chosen = [s for s in raw["sources"] if s["name"] in set(sources)]
    raw["sources"] = [{k: v for k, v in s.items() if k != "schedule"} for s in chosen]
    raw["sources"] += list(extra)
    raw["scheduler"] = {"default_schedule": "every 1s", "jitter": 0, **(scheduler or {})}
    raw.update(sections)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def host_map(server: FixtureServer) -> dict[str, str]:
    return {host: server.address for host in server.hosts()}


def runs(engine: Engine, source: str | None = None) -> list[tuple[str, Run]]:
    with Session(engine) as session:
        statement = select(Source.name, Run).join(Source, col(Source.id) == col(Run.source_id))
        if source is not None:
            statement = statement.where(Source.name == source)
        return list(session.exec(statement.order_by(col(Run.id))).all())


def finished(engine: Engine, source: str) -> list[Run]:
    return [run for _, run in runs(engine, source) if run.status != RunStatus.RUNNING]


def running(engine: Engine) -> list[Run]:
    return [run for _, run in runs(engine) if run.status == RunStatus.RUNNING]


async def until(check: Callable[[], Any], *, timeout: float = 20.0, what: str = "") -> Any:
    """Poll `check` on the event loop the daemon shares, until it is truthy or time is up."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)
    return value


@contextlib.asynccontextmanager
async def daemon_running(
    config_path: Path, engine: Engine, server: FixtureServer, metrics: Metrics | None = None
) -> AsyncIterator[Daemon]:
    daemon = Daemon(
        config_path,
        load_config(config_path),
        engine=engine,
        host_map=host_map(server),
        metrics=metrics,
    )
    task = asyncio.create_task(daemon.serve(handle_signals=False))
    try:
        yield daemon
    finally:
        daemon.stop()
        assert await asyncio.wait_for(task, 30) == 0


# --- The plan and its triggers (pure) ---


def test_the_plan_has_one_job_per_enabled_source_and_the_daily_pruning(tmp_path: Path) -> None:
    disabled = {**GONE, "enabled": False}
    config = load_config(daemon_config(tmp_path, sources=("knoca", "vive"), extra=[disabled]))

    jobs = plan(config)

    assert set(jobs) == {SOURCE_JOB + "knoca", SOURCE_JOB + "vive", PRUNE_JOB}
    assert jobs[SOURCE_JOB + "knoca"].interval == 1
    assert jobs[PRUNE_JOB].text == "45 3 * * *"


def test_crontab_weekdays_mean_what_crontab_means() -> None:
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("0") == crontab_weekdays("7") == "sun"
    assert crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert crontab_weekdays("mon-fri") == "mon-fri"
    saturday = dt.datetime(2026, 3, 7, 12, tzinfo=dt.UTC)
    due = parse_schedule("15 6 * * 1-5").next_due(timezone=COPENHAGEN, now=saturday)
    assert due == dt.datetime(2026, 3, 9, 5, 15, tzinfo=dt.UTC)  # Monday 06:15 in Copenhagen


@pytest.mark.parametrize("text", ["every 0s", "every 5 weeks", "every", "61 * * * *", "* * *"])
def test_bad_schedules_are_refused_with_the_expression(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_schedule(text)


def test_a_restart_keeps_each_interval_source_on_its_own_rhythm() -> None:
    now = dt.datetime(2026, 3, 7, 12, tzinfo=dt.UTC)
    every_6h = parse_schedule("every 6h")
    due = [
        every_6h.next_due(timezone=COPENHAGEN, now=now, anchor=now - dt.timedelta(hours=hours))
        for hours in (1, 5, 10)
    ]
    assert due == [now + dt.timedelta(hours=h) for h in (5, 1, 2)]
    assert every_6h.next_due(timezone=COPENHAGEN, now=now, anchor=None) is None


def test_jitter_spreads_a_cron_source_within_its_bound() -> None:
    trigger: Any = parse_schedule("15 6 * * *").trigger(timezone=COPENHAGEN, jitter=300)
    now = dt.datetime(2026, 3, 7, 12, tzinfo=dt.UTC)
    slot = dt.datetime(2026, 3, 8, 5, 15, tzinfo=dt.UTC)
    fires = {trigger.get_next_fire_time(None, now) for _ in range(20)}
    assert all(slot <= fire <= slot + dt.timedelta(seconds=300) for fire in fires)
    assert len(fires) > 1


# --- The daemon in-process ---


async def test_jobs_fire_feeds_follow_and_a_failing_source_does_not_stop_the_daemon(
    fixture_sites: FixtureServer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    config = daemon_config(tmp_path, extra=[GONE])

    async with daemon_running(config, sqlite_engine, fixture_sites):
        await until(lambda: len(finished(sqlite_engine, "gone")) >= 2, what="gone failing twice")
        await until(lambda: len(finished(sqlite_engine, "knoca")) >= 2, what="knoca twice")
        await until(lambda: (tmp_path / "feeds" / "knoca.atom").exists(), what="feeds")

    assert {run.status for run in finished(sqlite_engine, "gone")} == {RunStatus.FAILED}
    assert finished(sqlite_engine, "knoca")[0].status == RunStatus.BASELINE
    assert (tmp_path / "feeds" / "new.atom").exists()
    assert not running(sqlite_engine)


async def test_a_run_outlasting_its_interval_is_reported_not_doubled(
    fixture_sites: FixtureServer,
    sqlite_engine: Engine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="radar")
    fixture_sites.latency = 0.3  # knoca needs 4 requests: a run takes over 1.2 s of its 1 s
    config = daemon_config(tmp_path)

    def at_most_one_running() -> bool:
        assert len(running(sqlite_engine)) <= 1
        return len(finished(sqlite_engine, "knoca")) >= 2

    async with daemon_running(config, sqlite_engine, fixture_sites):
        await until(at_most_one_running, timeout=30, what="two runs")

    spans = [(run.started_at, run.finished_at) for run in finished(sqlite_engine, "knoca")]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start >= end, "two runs of one source overlapped"
    assert "still running at its next slot" in caplog.text


async def test_stopping_past_the_stop_timeout_cancels_and_leaves_no_running_run(
    fixture_sites: FixtureServer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    fixture_sites.latency = 5.0
    config = daemon_config(tmp_path, scheduler={"stop_timeout": 0.2})

    async with daemon_running(config, sqlite_engine, fixture_sites):
        await until(lambda: running(sqlite_engine), what="a run in progress")

    [(_, run)] = runs(sqlite_engine)
    assert run.status == RunStatus.CRASHED
    assert not running(sqlite_engine)


async def test_a_reload_applies_a_valid_config_and_keeps_unchanged_jobs(
    fixture_sites: FixtureServer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    config = daemon_config(tmp_path, scheduler={"default_schedule": "every 1h"})

    async with daemon_running(config, sqlite_engine, fixture_sites) as daemon:
        await until(lambda: daemon.scheduler.get_job(SOURCE_JOB + "knoca"), what="the job")
        before = daemon.scheduler.get_job(SOURCE_JOB + "knoca").next_run_time
        daemon_config(
            tmp_path, sources=("knoca",), extra=[GONE], scheduler={"default_schedule": "every 1h"}
        )
        daemon.reload()
        jobs = {job.id: job for job in daemon.scheduler.get_jobs()}

    assert set(jobs) == {SOURCE_JOB + "knoca", SOURCE_JOB + "gone", PRUNE_JOB}
    assert jobs[SOURCE_JOB + "knoca"].next_run_time == before


async def test_metrics_count_runs_and_bytes_on_loopback(
    fixture_sites: FixtureServer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    pytest.importorskip("prometheus_client", reason="metrics need the prometheus-client package")
    from radar.metrics import Metrics

    metrics, port = Metrics(), free_port()
    metrics.serve(port)
    try:
        async with daemon_running(daemon_config(tmp_path), sqlite_engine, fixture_sites, metrics):
            deadline = time.monotonic() + 20
            while 'status="baseline"} 1.0' not in (text := await asyncio.to_thread(scrape, port)):
                assert time.monotonic() < deadline, text
                await asyncio.sleep(0.05)
    finally:
        metrics.close()

    assert 'radar_runs_total{source="knoca",status="baseline"} 1.0' in text
    assert 'radar_fetch_bytes_total{host="www.knoca.eu"}' in text
    assert 'radar_items_found{source="knoca"} 20.0' in text


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- The daemon as an operator runs it: a process, and signals ---


class DaemonProcess:
    def __init__(self, config: Path, db: Path, server: FixtureServer) -> None:
        self.db, self.log = db, db.with_name("daemon.log")
        resolve = [
            arg for host in server.hosts() for arg in ("--resolve", f"{host}={server.address}")
        ]
        env = {**os.environ, "RADAR_DATABASE_URL": f"sqlite:///{db}"}
        command = [sys.executable, "-m", "radar", "--log-format", "json", "--log-level", "info"]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*command, "schedule", "--config", str(config), *resolve],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                cwd=ROOT,
            )
        self.engine = make_engine(f"sqlite:///{db}")

    def lines(self) -> list[dict[str, Any]]:
        text = self.log.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def logged(self, fragment: str) -> bool:
        return any(fragment in line["message"] for line in self.lines())

    def wait_until(self, check: Callable[[], Any], *, timeout: float = 30, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, self.log.read_text(encoding="utf-8")
            with contextlib.suppress(Exception):  # the schema may not exist yet
                if value := check():
                    return value
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.engine.dispose()


@pytest.fixture
def daemon_process(
    fixture_sites: FixtureServer, tmp_path: Path
) -> Iterator[Callable[[Path], DaemonProcess]]:
    started: list[DaemonProcess] = []

    def start(config: Path) -> DaemonProcess:
        started.append(DaemonProcess(config, tmp_path / "radar.db", fixture_sites))
        return started[-1]

    yield start
    for process in started:
        process.kill()


def test_sigterm_lets_the_running_source_finish_then_exits_0(
    fixture_sites: FixtureServer, tmp_path: Path, daemon_process: Callable[[Path], DaemonProcess]
) -> None:
    fixture_sites.latency = 0.3
    daemon = daemon_process(daemon_config(tmp_path))

    daemon.wait_until(lambda: running(daemon.engine), what="a run in progress")

    assert daemon.stop() == 0, daemon.log.read_text(encoding="utf-8")
    assert not running(daemon.engine)
    statuses = [run.status for _, run in runs(daemon.engine)]
    assert statuses[0] == RunStatus.BASELINE and RunStatus.CRASHED not in statuses
    assert daemon.logged("stopping: waiting")


def test_sighup_with_a_broken_config_keeps_the_running_schedule(
    fixture_sites: FixtureServer, tmp_path: Path, daemon_process: Callable[[Path], DaemonProcess]
) -> None:
    config = daemon_config(tmp_path)
    daemon = daemon_process(config)
    daemon.wait_until(lambda: finished(daemon.engine, "knoca"), what="a first run")

    config.write_text(config.read_text(encoding="utf-8") + "\ncolour: red\n", encoding="utf-8")
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_until(lambda: daemon.logged("config not reloaded"), what="the refusal")
    count = len(finished(daemon.engine, "knoca"))
    daemon.wait_until(lambda: len(finished(daemon.engine, "knoca")) > count, what="another run")

    assert daemon.stop() == 0
    refusal = next(line for line in daemon.lines() if "config not reloaded" in line["message"])
    assert refusal["level"] == "error" and "colour: unknown key" in refusal["message"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("scheduler: {timezone: Mars/Olympus}", "scheduler.timezone: unknown time zone"),
        ("scheduler: {default_schedule: every 5 weeks}", "scheduler.default_schedule: invalid"),
        ("scheduler: {jiter: 3}", "scheduler.jiter: unknown key"),
        ("alerts: {emails: [drift]}", "alerts.emails.0: not an e-mail address: 'drift'"),
        ("alerts: {states: [broken]}", "alerts.states.0: Input should be"),
        ("retention: {schedule: '* * *'}", "retention.schedule: invalid cron expression"),
    ],
)
def test_the_operations_sections_are_validated_naming_the_key(section: str, message: str) -> None:
    minimal = (
        'crawler: {contact_url: "https://example.dk/kontakt"}\n'
        'sources: [{name: x, kind: html, url: "https://example.dk/", item: li,'
        ' fields: {title: a, link: "a @href"}}]\n'
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(minimal + section)
