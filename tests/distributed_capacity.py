"""Measure source runs per minute per `radar worker` (docs/scale-out.md, "Capacity").

    .venv/bin/python -m tests.distributed_capacity --workers 1 --concurrency 8 --rounds 3

Starts real workers against a fresh PostgreSQL database, RabbitMQ and Redis on this
machine, dispatches every synthetic source (a loopback site of one listing page each, or
`--pages` pages of `--per-page` items padded with `--pad-kb` of other markup) at once, and
times each round until every run is finished in the database. Round 1 is the baseline,
round 2 finds one new item per source, round 3 is answered 304.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from radar.config import load_config
from radar.fixture_server import FixtureServer
from storage.db import make_engine, migrate
from storage.models import Run, RunStatus
from tests.db_fixtures import postgres_base_url
from tests.distributed_support import AMQP_URL, Namespace, Synthetic, Workers, forget, write_config


def finished(engine: sa.engine.Engine, ids: set[str]) -> int:
    with Session(engine) as session:
        statement = select(func.count()).where(
            col(Run.dispatch_id).in_(ids), col(Run.status) != RunStatus.RUNNING
        )
        return int(session.exec(statement).one())


def work(engine: sa.engine.Engine, ids: set[str]) -> str:
    """What the round's runs did, in all: pages fetched, pages answered 304, items found."""
    with Session(engine) as session:
        statement = select(
            func.sum(Run.pages_fetched), func.sum(Run.pages_not_modified), func.sum(Run.items_found)
        ).where(col(Run.dispatch_id).in_(ids))
        fetched, not_modified, items = session.exec(statement).one()
    return f"{fetched} pages fetched, {not_modified} answered 304, {items} items"


def measure(args: argparse.Namespace, folder: Path, engine: sa.engine.Engine) -> None:
    from radar.distributed.dispatch import dispatcher_for

    namespace = Namespace.fresh()
    synthetic = Synthetic(
        folder / "sites",
        args.sources,
        args.hosts,
        pages=args.pages,
        per_page=args.per_page,
        pad=args.pad_kb * 1024,
    )
    synthetic.write()
    crawler = {"host_delay": args.delay, "host_concurrency": 2}
    config = write_config(folder / "config.yaml", synthetic.sources(), namespace, crawler=crawler)
    dispatcher = dispatcher_for(load_config(config), broker_url=AMQP_URL)
    workers = Workers()
    try:
        with FixtureServer(folder / "sites", snapshot="snapshot-1") as server:
            server.latency = args.latency
            options = ["--pool", args.pool, "--concurrency", str(args.concurrency)]
            for n in range(args.workers):
                workers.start(
                    f"w{n}",
                    config=config,
                    engine=engine,
                    log_dir=folder,
                    args=[*options, *synthetic.resolve(server)],
                )
            time.sleep(5)  # let them connect
            for round_ in range(1, args.rounds + 1):
                server.snapshot = "snapshot-2" if round_ > 1 else "snapshot-1"
                started = time.monotonic()
                ids = {dispatcher.dispatch(synthetic.name(i)) for i in range(args.sources)}
                while finished(engine, ids) < args.sources:
                    time.sleep(0.1)
                seconds = time.monotonic() - started
                rate = args.sources / seconds * 60
                print(
                    f"round {round_}: {args.sources} runs in {seconds:.1f} s = {rate:.0f}/min, "
                    f"{rate / args.workers:.0f}/min per worker; {work(engine, ids)}",
                    flush=True,
                )
    finally:
        workers.stop()
        forget(namespace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per response")
    parser.add_argument("--delay", type=float, default=0.0, help="crawler.host_delay")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", type=int, default=1, help="listing pages per source")
    parser.add_argument("--per-page", type=int, default=2, help="items per listing page")
    parser.add_argument("--pad-kb", type=int, default=0, help="other markup on each page, KB")
    args = parser.parse_args()
    admin = sa.create_engine(postgres_base_url(), isolation_level="AUTOCOMMIT")
    name = f"radar_t_{uuid.uuid4().hex}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(
        sa.make_url(postgres_base_url()).set(database=name).render_as_string(False)
    )
    try:
        migrate(engine)
        with tempfile.TemporaryDirectory(prefix="radar-capacity-") as folder:
            measure(args, Path(folder), engine)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
