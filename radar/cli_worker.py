"""`radar worker`: run dispatched sources (scale-out; docs/scale-out.md).

Celery and redis-py are imported only here, when the command runs: single-machine use
never needs them (`pip install 'inspiration-radar[distributed]'`).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from radar.cli_common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    config_option,
    load_or_exit,
    parse_resolve,
    resolve_option,
)
from radar.distributed.settings import BROKER_URL_ENV, REDIS_URL_ENV, secret_url
from radar.errors import ConfigError, RadarError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from radar.config import RadarConfig

POOLS = ("prefork", "threads", "solo")
EXTRA_HINT = "the scale-out mode needs the 'distributed' extra: pip install '.[distributed]'"


@contextmanager
def distributed_extra() -> Iterator[None]:
    """Import Celery's side inside this block; without the extra, exit 2 saying how to get it."""
    try:
        yield
    except ImportError as exc:
        click.echo(f"radar: {EXTRA_HINT} ({exc})", err=True)
        sys.exit(EXIT_CONFIG)


def secrets_or_exit(*variables: str) -> list[str]:
    """The URLs from the environment, or exit 2 naming the one missing."""
    try:
        return [secret_url(variable) for variable in variables]
    except ConfigError as exc:
        click.echo(f"radar: config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


@click.command()
@config_option
@resolve_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, 512),
    default=None,
    help="Sources run at once by this worker (default: 8 threads, or a process per CPU).",
)
@click.option(
    "--pool",
    type=click.Choice(POOLS),
    default="threads",
    show_default=True,
    help="threads: runs mostly wait on hosts, so one process (one CPU) runs several; "
    "prefork: a process per run.",
)
@click.option("--hostname", default=None, help="Celery node name, e.g. radar-1@%h.")
def worker(
    config_path: Path,
    resolve: tuple[str, ...],
    concurrency: int | None,
    pool: str,
    hostname: str | None,
) -> None:
    """Run the sources `radar schedule --dispatch` enqueues, until SIGTERM.

    Broker and Redis come from RADAR_BROKER_URL and RADAR_REDIS_URL, the database from
    RADAR_DATABASE_URL (PostgreSQL: every worker and the scheduler share it).
    """
    config = load_or_exit(config_path)
    broker_url, redis_url = secrets_or_exit(BROKER_URL_ENV, REDIS_URL_ENV)
    with distributed_extra():
        from radar.distributed.worker import WorkerContext, WorkerOptions, start_worker
    from storage.db import database_url, open_database

    url = database_url()
    try:
        open_database(url).dispose()  # migrated once here, not by every pool process
    except RadarError as exc:
        click.echo(f"radar: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    context = WorkerContext(
        config_path=config_path,
        config=config,
        database_url=url,
        redis_url=redis_url,
        host_map=parse_resolve(resolve),
    )
    options = WorkerOptions(pool=pool, concurrency=concurrency, hostname=hostname)
    sys.exit(start_worker(context, broker_url=broker_url, options=options))


def schedule_dispatch(config_path: Path, config: RadarConfig, *, metrics_port: int | None) -> None:
    """`radar schedule --dispatch`: the daemon enqueues due sources; it exits like the daemon."""
    if metrics_port is not None:
        click.echo("radar: --metrics-port: with --dispatch the runs are on the workers", err=True)
        sys.exit(EXIT_CONFIG)
    [broker_url] = secrets_or_exit(BROKER_URL_ENV)
    with distributed_extra():
        from radar.distributed.dispatch import run_dispatch_daemon
    from storage.db import open_database

    engine = open_database()
    try:
        sys.exit(run_dispatch_daemon(config_path, config, engine=engine, broker_url=broker_url))
    finally:
        engine.dispose()
