"""`radar schedule`: the daemon that runs each source on its own schedule, for months.

Each enabled source is one APScheduler job, on its `schedule:` (or
`scheduler.default_schedule`), in `scheduler.timezone`, with up to `scheduler.jitter`
seconds of random delay so sources on one host never fire together. A job never runs
twice at once (max_instances=1, coalesce=True): a run still going at its next slot is
reported and that slot skipped. After every run the feeds are written again; daily, old
bookkeeping is pruned (radar.retention). A failing source is that source's problem only.

An interval schedule counts from the source's last run, so a restart keeps each source's
rhythm instead of firing every job at once; a cron schedule fires at its next time.

Signals: SIGTERM and SIGINT stop taking jobs, let a running source finish (for up to
`scheduler.stop_timeout` seconds, then cancel it, so its transaction rolls back and its run
is marked crashed) and exit 0. SIGHUP reloads the config; a broken one is logged and the
running schedule kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import Session, col, select

from radar import alerts
from radar.config import load_config
from radar.errors import ConfigError, RadarError
from radar.logs import log_context
from radar.pipeline import run_sources
from radar.publish import write_feeds
from radar.retention import prune
from radar.settings_ops import Schedule, parse_schedule, source_schedule
from scraper import listing_worker
from scraper.fetch import Fetcher
from scraper.listing_worker import ListingWorker
from scraper.politeness import HostLimiter
from storage.db import display_url
from storage.locks import source_lock
from storage.models import RunStatus, Source
from storage.queries import source_states
from storage.source_state import mark_crashed_runs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from radar.config import RadarConfig
    from radar.metrics import Metrics
    from radar.runs import RunOutcome

log = logging.getLogger(__name__)

SOURCE_JOB = "source:"
PRUNE_JOB = "radar:prune"


def plan(config: RadarConfig) -> dict[str, Schedule]:
    """The jobs a config asks for: one per enabled source, and the daily pruning."""
    jobs = {
        SOURCE_JOB + spec.name: source_schedule(spec.schedule, config.scheduler)
        for spec in config.sources
        if spec.enabled
    }
    jobs[PRUNE_JOB] = parse_schedule(config.retention.schedule)
    return jobs


def install_signal_handlers(
    loop: asyncio.AbstractEventLoop, *, stop: Callable[[], None], reload: Callable[[], None]
) -> Callable[[], None]:
    """SIGTERM/SIGINT call `stop`, SIGHUP `reload`; returns a function that removes them."""
    handled = {signal.SIGTERM: stop, signal.SIGINT: stop, signal.SIGHUP: reload}
    for number, handler in handled.items():
        loop.add_signal_handler(number, handler)

    def remove() -> None:
        for number in handled:
            loop.remove_signal_handler(number)

    return remove


class Daemon:
    """The scheduler, its jobs and their lifecycle. `serve` returns the exit code."""

    def __init__(
        self,
        config_path: Path,
        config: RadarConfig,
        *,
        engine: Engine,
        host_map: dict[str, str] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config_path, self.config = config_path, config
        self.engine, self.host_map, self.metrics = engine, host_map, metrics
        self.scheduler = AsyncIOScheduler(timezone=config.scheduler.zone)
        # One politeness budget per host for the daemon's whole life, across all sources.
        crawler = config.crawler
        self.limiter = HostLimiter(delay=crawler.host_delay, concurrency=crawler.host_concurrency)
        # And one extraction worker, whose child lives only while some listing is walked.
        self.listing_worker = ListingWorker()
        self._keys: dict[str, tuple[Any, ...]] = {}
        self._running: dict[asyncio.Task[Any], str] = {}
        self._stopping = asyncio.Event()

    async def serve(self, *, handle_signals: bool = True) -> int:
        self.scheduler.add_listener(
            self._on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR
        )
        self._apply(self.config)
        self.scheduler.start()
        log.info("scheduler started; database %s", display_url(str(self.engine.url)))
        self._log_next_runs()
        remove = (
            install_signal_handlers(asyncio.get_running_loop(), stop=self.stop, reload=self.reload)
            if handle_signals
            else (lambda: None)
        )
        try:
            await self._stopping.wait()
            await self._shutdown()
        finally:
            remove()
        log.info("scheduler stopped")
        return 0

    def stop(self) -> None:
        self._stopping.set()

    def reload(self) -> None:
        if self._stopping.is_set():
            return
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config not reloaded, the running schedule is kept: %s", exc)
            return
        self.config = config
        alerts.install(config.alerts, timezone=config.scheduler.zone)
        self._apply(config)
        log.info("config reloaded from %s", self.config_path)
        self._log_next_runs()

    # Jobs

    def _apply(self, config: RadarConfig) -> None:
        """Make the jobs match `config`; a job whose schedule is unchanged keeps its next run."""
        wanted = plan(config)
        with Session(self.engine) as session:
            anchors = {
                name: state.last_run.started_at
                for name, state in source_states(session).items()
                if state.last_run is not None
            }
        for job_id in set(self._keys) - set(wanted):
            self.scheduler.remove_job(job_id)
            del self._keys[job_id]
        settings = config.scheduler
        for job_id, schedule in wanted.items():
            key = (schedule, settings.timezone, settings.jitter, settings.misfire_grace_time)
            if self._keys.get(job_id) == key:
                continue
            name = job_id.removeprefix(SOURCE_JOB)
            anchor = anchors.get(name) if job_id.startswith(SOURCE_JOB) else None
            self.scheduler.add_job(
                self._run_source if job_id.startswith(SOURCE_JOB) else self._prune,
                trigger=schedule.trigger(
                    timezone=settings.zone, jitter=settings.jitter, anchor=anchor
                ),
                args=[name] if job_id.startswith(SOURCE_JOB) else [],
                id=job_id,
                name=job_id,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=settings.misfire_grace_time,
            )
            self._keys[job_id] = key

    async def _run_source(self, name: str) -> None:
        config = self.config
        spec = next((s for s in config.sources if s.name == name and s.enabled), None)
        if spec is None or self._stopping.is_set():
            return
        hook = self.metrics.on_response if self.metrics else None
        with log_context(source=name), self._tracked(name):
            started = time.monotonic()
            async with Fetcher(
                config.crawler, host_map=self.host_map, on_response=hook, limiter=self.limiter
            ) as fetcher:
                with listing_worker.serving(self.listing_worker):
                    [outcome] = await run_sources(
                        [spec], engine=self.engine, fetcher=fetcher, relevance=config.relevance
                    )
            self._report(outcome, time.monotonic() - started)
            if outcome.status is not RunStatus.SKIPPED:
                await self._publish(config)

    async def _prune(self) -> None:
        if self._stopping.is_set():
            return
        with self._tracked(PRUNE_JOB):
            await asyncio.to_thread(prune, self.engine, self.config.retention)

    async def _publish(self, config: RadarConfig) -> None:
        try:
            await asyncio.to_thread(write_feeds, self.engine, config)
        except (OSError, RadarError, sa.exc.SQLAlchemyError) as exc:
            log.error("feeds not written: %s", exc)

    def _report(self, outcome: RunOutcome, seconds: float) -> None:
        level = logging.INFO if outcome.ok else logging.WARNING
        log.log(
            level,
            "[%s] %s in %.1fs: %d items, %d new, %d changed, %d removed, %d back%s",
            outcome.source,
            outcome.status,
            seconds,
            outcome.items,
            outcome.new,
            outcome.changed,
            outcome.removed,
            outcome.reappeared,
            f"; {outcome.error}" if outcome.error else "",
        )
        if self.metrics is not None:
            self.metrics.observe_run(outcome, seconds)

    @contextlib.contextmanager
    def _tracked(self, name: str) -> Iterator[None]:
        task = asyncio.current_task()
        assert task is not None
        self._running[task] = name
        try:
            yield
        finally:
            del self._running[task]

    def _on_event(self, event: Any) -> None:
        name = str(event.job_id).removeprefix(SOURCE_JOB)
        with log_context(source=name):
            if event.code == EVENT_JOB_MAX_INSTANCES:
                log.warning(
                    "[%s] still running at its next slot; that slot is skipped, not doubled", name
                )
            elif event.code == EVENT_JOB_MISSED:
                log.warning("[%s] missed its slot at %s", name, event.scheduled_run_time)
            elif event.code == EVENT_JOB_ERROR:
                log.error("[%s] job failed: %r", name, event.exception)

    def _log_next_runs(self) -> None:
        for job in self.scheduler.get_jobs():
            log.info("%s: next run %s", job.id, job.next_run_time)

    # Stopping

    async def _shutdown(self) -> None:
        self.scheduler.pause()
        running = dict(self._running)
        timeout = self.config.scheduler.stop_timeout
        if running:
            log.warning(
                "stopping: waiting up to %gs for %s", timeout, ", ".join(sorted(running.values()))
            )
            _done, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
                sources = [running[task] for task in pending if running[task] != PRUNE_JOB]
                close_interrupted(self.engine, sources)
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the event loop


def close_interrupted(engine: Engine, names: list[str]) -> None:
    """Mark the runs of cancelled sources crashed now, rather than at their next start.

    Only under the source's lock: a run of another process must never be touched.
    """
    for name in names:
        with source_lock(engine, name) as mine, Session(engine) as session:
            source = session.exec(select(Source).where(col(Source.name) == name)).first()
            if not mine or source is None or source.id is None:
                continue
            if mark_crashed_runs(session, source.id):
                log.warning("[%s] the interrupted run is marked crashed", name)
            session.commit()


def run_daemon(
    config_path: Path,
    config: RadarConfig,
    *,
    engine: Engine,
    host_map: dict[str, str] | None = None,
    metrics: Metrics | None = None,
) -> int:
    """Run the daemon until a stop signal; the exit code."""
    alerts.install(config.alerts, timezone=config.scheduler.zone)
    daemon = Daemon(config_path, config, engine=engine, host_map=host_map, metrics=metrics)
    return asyncio.run(daemon.serve())
