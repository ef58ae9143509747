"""The Celery application: one task (run one source), and the settings that make it safe.

- Late acknowledgement (`task_acks_late`) with a prefetch of one per process: a message is
  acknowledged only when its run has finished, so a worker that dies mid-run leaves it on
  the broker, which hands it to another worker. With RabbitMQ that happens as soon as the
  dead worker's connection drops; with Redis as broker, after `visibility_timeout`.
- `task_reject_on_worker_lost`: a pool process killed mid-run sends its message back too.
- `worker_cancel_long_running_tasks_on_connection_loss`: a worker cut off from the broker
  stops its runs (they roll back) rather than race the worker the broker redelivers them to.
- No result backend: the outcome of a run is its Run row in the database.
- No remote control, events, gossip or mingle: nothing broadcasts to other apps that share
  the broker, so several deployments (or test runs) can share one RabbitMQ or Redis.
"""

from __future__ import annotations

import importlib
from typing import Any

from celery import Celery

TASK_NAME = "radar.run_source"

app = Celery("radar", set_as_current=False)


def configure(
    *, broker_url: str, queue: str, visibility_timeout: int, worker: bool = False
) -> Celery:
    """Point the app at a broker and a queue; returns it, ready to send or to consume."""
    transport: dict[str, Any] = {}
    if broker_url.split(":", 1)[0] in ("redis", "rediss"):
        transport["visibility_timeout"] = visibility_timeout
    app.conf.update(
        broker_url=broker_url,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        task_default_queue=queue,
        task_routes={TASK_NAME: {"queue": queue, "routing_key": queue}},
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,  # radar's own logging (text or JSON, secrets masked)
        worker_redirect_stdouts=False,
    )
    if worker:
        # Registers the task on the app; the scheduler only sends it by name.
        importlib.import_module("radar.distributed.tasks")

    return app
