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
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables register on SQLModel.metadata)
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
SCHEMA_REVISION = "0010"
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
    try:
        # Processes starting together on a new database (workers, cron jobs) take turns.
        with schema_lock(engine):
            if at_schema_revision(engine):
                return  # another process brought it up to date while we waited
            if _holds_our_tables(engine):
                upgrade_with_alembic(engine)
            else:
                create_schema(engine)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate {display_url(str(engine.url))}: {exc}") from exc


def upgrade_with_alembic(engine: Engine) -> None:
    """Run the migrations from the database's revision (none: an empty one) to the newest."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


# Alembic's own bookkeeping table, as Alembic creates it.
_ALEMBIC_VERSION = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _holds_our_tables(engine: Engine) -> bool:
    """Whether any table of ours (or Alembic's) is there: a shared PostgreSQL database may
    hold other applications' tables, which are not ours to judge."""
    ours = {*SQLModel.metadata.tables, _ALEMBIC_VERSION.name}
    return bool(ours & set(sa.inspect(engine).get_table_names()))


def create_schema(engine: Engine) -> None:
    """A new database: the newest schema straight from the models, stamped SCHEMA_REVISION.

    Alembic's recipe for new databases ("create_all, then stamp head"): one transaction
    instead of replaying every migration, ~0.2 s and several MB less on a first run. A test
    holds the result equal, table by table, to the one the migrations build.
    """
    with engine.begin() as connection:
        SQLModel.metadata.create_all(connection)
        _ALEMBIC_VERSION.create(connection)
        connection.execute(_ALEMBIC_VERSION.insert().values(version_num=SCHEMA_REVISION))


def open_database(url: str | None = None) -> Engine:
    """Engine for the configured database, schema up to date."""
    engine = make_engine(url or database_url())
    migrate(engine)
    return engine
