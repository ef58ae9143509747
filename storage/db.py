"""Making database engines and bringing their schema up to date.

The URL comes from RADAR_DATABASE_URL; by default an SQLite file ./data/radar.db in WAL
mode, so a reader (the feed writer, `radar status`) never blocks a crawl.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from radar.errors import StorageError
from storage.locks import schema_lock

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

DATABASE_URL_ENV = "RADAR_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///data/radar.db"
MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in storage/migrations/versions (a test keeps the two in step): a
# database already there is opened without loading Alembic and its scripts at all.
SCHEMA_REVISION = "0006"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(environ: dict[str, str] | None = None) -> str:
    """The configured database URL; secrets in it stay in the environment."""
    env = os.environ if environ is None else environ
    return env.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


def display_url(url: str) -> str:
    """The URL with any password masked, fit for logs and status output."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created on first use."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True)


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def at_schema_revision(engine: Engine) -> bool:
    """Whether the database's schema is SCHEMA_REVISION already (one query)."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except sa.exc.SQLAlchemyError:
        return False  # a new database, or one migrate() will explain
    return [row[0] for row in rows] == [SCHEMA_REVISION]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; cheap when it is already there."""
    # Every cron run and worker opens the database: Alembic costs ~0.1 s to import and
    # read its scripts, so it is loaded only when there is something to do.
    if at_schema_revision(engine):
        return
    from alembic import command

    try:
        # Processes starting together on a new database (workers, cron jobs) take turns.
        with schema_lock(engine):
            command.upgrade(alembic_config(engine), "head")
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate {display_url(str(engine.url))}: {exc}") from exc


def open_database(url: str | None = None) -> Engine:
    """Engine for the configured database, schema up to date."""
    engine = make_engine(url or database_url())
    migrate(engine)
    return engine
