"""`radar schedule --dispatch`: the same daemon, enqueueing source runs for the workers.

Every schedule, signal and reload of radar.schedule.Daemon holds; only a due source is
sent to the queue instead of run here, and the feeds are rewritten every
`distributed.feeds_every` seconds when a run has finished since the last time (the
scheduler cannot see a worker's run end). A task not started within
`scheduler.misfire_grace_time` expires unrun, as a missed slot does in-process, so a
backlog never piles up runs of one source.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa
from kombu.exceptions import OperationalError
from sqlmodel import Session, col, func, select

from radar import alerts
from radar.distributed.app import TASK_NAME, configure
from radar.logs import log_context
from radar.schedule import Daemon
from storage.db import display_url
from storage.models import Run

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from celery import Celery
    from sqlalchemy.engine import Engine

    from radar.config import RadarConfig
    from radar.metrics import Metrics

log = logging.getLogger(__name__)

FEEDS_JOB = "radar:feeds"


class Dispatcher:
    """Sends one run-source task per call; its task id is the run's dispatch id."""

    def __init__(self, app: Celery, *, queue: str, expires: float | None = None) -> None:
        self.app, self.queue, self.expires = app, queue, expires

    def dispatch(self, name: str) -> str:
        dispatch_id = uuid.uuid4().hex
        self.app.send_task(
            TASK_NAME, args=[name], task_id=dispatch_id, queue=self.queue, expires=self.expires
        )
        return dispatch_id


def dispatcher_for(config: RadarConfig, *, broker_url: str) -> Dispatcher:
    settings = config.distributed
    app = configure(
        broker_url=broker_url,
        queue=settings.queue,
        visibility_timeout=settings.visibility_timeout,
    )
    return Dispatcher(app, queue=settings.queue, expires=config.scheduler.misfire_grace_time)


class DispatchDaemon(Daemon):
    """radar.schedule.Daemon whose source jobs enqueue runs; feeds follow finished runs."""

    def __init__(
        self,
        config_path: Path,
        config: RadarConfig,
        *,
        engine: Engine,
        dispatcher: Dispatcher,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(config_path, config, engine=engine, metrics=metrics)
        self.dispatcher = dispatcher
        self._feeds_written: dt.datetime | None = None
        self._feeds_every: int | None = None

    def _apply(self, config: RadarConfig) -> None:
        super()._apply(config)
        every = config.distributed.feeds_every
        if every != self._feeds_every:
            self.scheduler.add_job(
                self._feeds,
                trigger="interval",
                seconds=every,
                id=FEEDS_JOB,
                name=FEEDS_JOB,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
            )
            self._feeds_every = every

    async def _run_source(self, name: str) -> None:
        config = self.config
        spec = next((s for s in config.sources if s.name == name and s.enabled), None)
        if spec is None or self._stopping.is_set():
            return
        with log_context(source=name):
            try:
                dispatch_id = await asyncio.to_thread(self.dispatcher.dispatch, name)
            except OperationalError as exc:
                log.error("[%s] not dispatched, the broker is unreachable: %s", name, exc)
                return
            log.info("[%s] dispatched as %s", name, dispatch_id)

    async def _feeds(self) -> None:
        if self._stopping.is_set():
            return
        with self._tracked(FEEDS_JOB):
            latest = await asyncio.to_thread(self._last_finished)
            if latest is None or latest == self._feeds_written:
                return
            await self._publish(self.config)
            self._feeds_written = latest

    def _last_finished(self) -> dt.datetime | None:
        try:
            with Session(self.engine) as session:
                return session.exec(select(func.max(col(Run.finished_at)))).one()
        except sa.exc.SQLAlchemyError as exc:
            log.error("feeds not checked: %s", exc)
            return None


def run_dispatch_daemon(
    config_path: Path,
    config: RadarConfig,
    *,
    engine: Engine,
    broker_url: str,
    metrics: Metrics | None = None,
) -> int:
    """Run the dispatching daemon until a stop signal; the exit code."""
    alerts.install(config.alerts, timezone=config.scheduler.zone)
    dispatcher = dispatcher_for(config, broker_url=broker_url)
    log.info("dispatching to %s on %s", config.distributed.queue, display_url(broker_url))
    daemon = DispatchDaemon(
        config_path, config, engine=engine, dispatcher=dispatcher, metrics=metrics
    )
    return asyncio.run(daemon.serve())
