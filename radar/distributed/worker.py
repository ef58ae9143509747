"""`radar worker`: a Celery worker that runs dispatched sources with the ordinary pipeline.

The worker process reads config.yaml once to start; each task reads it again when the file
has changed (a broken file is logged and the last good one kept), so a new config rolled
out to every machine takes effect without restarts. The engine is made in each pool
process on its first task, never shared across a fork.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa
from celery import signals

from radar import alerts
from radar.config import load_config
from radar.distributed.app import configure
from radar.distributed.crawler import ThreadCrawlers
from radar.errors import ConfigError, RadarError
from radar.pipeline import run_source
from radar.runs import RunOutcome
from storage.db import display_url, make_engine
from storage.models import RunStatus

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from radar.config import RadarConfig
    from scraper.fetch import Fetcher

log = logging.getLogger(__name__)

THREADS = 8  # runs at once in one worker process by default: they mostly wait on hosts


@dataclass
class WorkerContext:
    """What every task of this worker needs: config, database, Redis, host mapping."""

    config_path: Path
    config: RadarConfig
    database_url: str
    redis_url: str
    host_map: dict[str, str] | None = None
    pool_size: int = 5  # database connections per process: two per run at once (lock, work)
    _mtime: float = 0.0
    _engine: Engine | None = None
    _pid: int = field(default_factory=os.getpid)
    _crawlers: ThreadCrawlers = field(init=False)

    def __post_init__(self) -> None:
        self._mtime = self._stat()
        self._crawlers = ThreadCrawlers(redis_url=self.redis_url, host_map=self.host_map)

    def _stat(self) -> float:
        try:
            return self.config_path.stat().st_mtime
        except OSError:
            return self._mtime

    def current_config(self) -> RadarConfig:
        mtime = self._stat()
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self.config = load_config(self.config_path)
                alerts.install(self.config.alerts, timezone=self.config.scheduler.zone)
                log.info("config reloaded from %s", self.config_path)
            except ConfigError as exc:
                log.error("config not reloaded, the last good one is kept: %s", exc)
        return self.config

    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            self._engine, self._pid = _engine(self.database_url, self.pool_size), os.getpid()
        return self._engine

    def run(self, name: str, dispatch_id: str) -> RunOutcome | None:
        """Run source `name` for this dispatch; None if config.yaml has no such source."""
        config = self.current_config()
        spec = next((s for s in config.sources if s.name == name and s.enabled), None)
        if spec is None:
            log.warning("[%s] not run: no such enabled source in %s", name, self.config_path)
            return None
        crawler = self._crawlers.get(config.crawler, config.distributed)
        engine = self.engine()

        async def run(fetcher: Fetcher) -> RunOutcome:
            return await run_source(
                spec,
                engine=engine,
                fetcher=fetcher,
                relevance=config.relevance,
                dispatch_id=dispatch_id,
            )

        try:
            return crawler.run(run)
        except RadarError as exc:
            log.error("[%s] run failed: %s", spec.name, exc)
            return RunOutcome(spec.name, None, RunStatus.FAILED, error=str(exc))


def _engine(url: str, pool_size: int) -> Engine:
    engine = make_engine(url)
    if engine.dialect.name != "postgresql" or pool_size <= engine.pool.size():  # type: ignore[attr-defined]
        return engine
    engine.dispose()
    return sa.create_engine(
        engine.url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size
    )


_context: WorkerContext | None = None


def current() -> WorkerContext:
    if _context is None:
        raise RuntimeError("radar.distributed.worker: no worker context; start with `radar worker`")
    return _context


def _keep_radar_logging(**_kwargs: object) -> None:
    """Celery leaves logging alone when this signal has a receiver: radar configured it."""


signals.setup_logging.connect(_keep_radar_logging, weak=False)


@dataclass(frozen=True)
class WorkerOptions:
    """How many runs at once and how: Celery's pool, its size, and the node's name."""

    pool: str = "threads"
    concurrency: int | None = None
    hostname: str | None = None

    @property
    def size(self) -> int:
        if self.concurrency is not None:
            return self.concurrency
        return THREADS if self.pool == "threads" else os.cpu_count() or 1


def start_worker(
    context: WorkerContext, *, broker_url: str, options: WorkerOptions = WorkerOptions()
) -> int:
    """Consume the source queue until SIGTERM (warm: running sources finish); exit code."""
    global _context
    _context = context
    if options.pool == "threads":
        context.pool_size = 2 * options.size + 2
    settings = context.config.distributed
    alerts.install(context.config.alerts, timezone=context.config.scheduler.zone)
    app = configure(
        broker_url=broker_url,
        queue=settings.queue,
        visibility_timeout=settings.visibility_timeout,
        worker=True,
    )
    log.info(
        "worker consuming %s from %s; database %s",
        settings.queue,
        display_url(broker_url),
        display_url(context.database_url),
    )
    worker = app.Worker(
        hostname=options.hostname,
        pool_cls=options.pool,
        concurrency=options.size,
        queues=[settings.queue],
        loglevel=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        optimization="fair",
        quiet=True,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
    )
    worker.start()
    return int(worker.exitcode or 0)
