"""The one task: run one source for one dispatch. Its Celery task id is the dispatch id.

Exactly once, whatever happens to workers: the message is acknowledged only after the run
(late ack), so a dead worker's task comes back; the dispatch id stored on its Run row lets
the second delivery see that the run already finished and stop there. A run cut short
rolled back and left a `running` row, which the next run of the source marks crashed.

A source locked by another run is tried again a few times (`distributed.lock_retries`,
every `lock_retry_delay` seconds): the holder may be a killed worker whose database
connection is still being closed. If it stays locked, its previous run is still going
and this slot is skipped, as `radar schedule` skips a slot of a source still running.
A database or Redis outage fails no source: the task is retried with backoff.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from redis.exceptions import RedisError

from radar.distributed.app import TASK_NAME, app
from radar.distributed.worker import current
from radar.logs import log_context
from storage.models import RunStatus

log = logging.getLogger(__name__)

NOT_CONFIGURED = "not configured"


@app.task(  # type: ignore[untyped-decorator]
    name=TASK_NAME,
    bind=True,
    autoretry_for=(sa.exc.OperationalError, RedisError),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=10,
)
def run_source(self: Any, name: str) -> str:
    """Run source `name`; the status of its run for this dispatch."""
    dispatch_id = str(self.request.id)
    context = current()
    with log_context(source=name):
        outcome = context.run(name, dispatch_id)
        if outcome is None:
            return NOT_CONFIGURED
        if outcome.status is RunStatus.SKIPPED:
            settings = context.current_config().distributed
            if self.request.retries < settings.lock_retries:
                log.info("[%s] locked by another run; trying again", name)
                raise self.retry(
                    countdown=settings.lock_retry_delay, max_retries=settings.lock_retries
                )
            log.warning("[%s] still locked by its previous run: this slot is skipped", name)
        return str(outcome.status)
