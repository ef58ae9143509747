"""Database fixtures: fresh, migrated SQLite and PostgreSQL databases, one per test.

Loaded as a pytest plugin (`pytest_plugins = ["tests.db_fixtures"]` in tests/conftest.py).

- `sqlite_engine`: a new SQLite file in tmp_path, migrated once, disposed after.
- `postgres_engine`: a new database `radar_t_<hex>` on the server named by
  RADAR_TEST_POSTGRES_URL, migrated once, dropped WITH (FORCE) after. If the server is not
  reachable the test is skipped, or fails when the CI environment variable is set.
- `engine`: both of the above, as parameters "sqlite" and "postgres".
- `sqlite_factory` (session scope): `with sqlite_factory() as engine:` gives a fresh, migrated
  SQLite database copied from one migrated per session; cheap enough for each hypothesis example.

Helpers for recording runs by hand, as an adapter would hand them to the pipeline:
`html_spec()`, `make_item(key, title, **fields)`, `memo(url, keys)`, and
`record(engine, spec, items, complete=..., carried=..., memos=...)`, which calls
radar.runs.start_run and radar.recording.record_crawl with a hand-made scraper.crawl.Crawl.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from radar.items import ExtractedItem
from radar.recording import record_crawl
from radar.runs import start_run
from scraper.adapters.html import HtmlSpec
from scraper.crawl import Crawl
from scraper.crawl import PageMemo as CrawlMemo
from scraper.fetch import Validators
from storage.db import make_engine, migrate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from radar.pipeline import RunOutcome
    from scraper.spec import SourceSpec

POSTGRES_URL_ENV = "RADAR_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE_PREFIX = "radar_t_"
CONNECT_TIMEOUT_S = 5


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def postgres_base_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


def _in_ci() -> bool:
    """CI runners set CI (usually to "true"); an explicit false/0 means a local run."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class _PostgresServer:
    """The maintenance connection to the test server, or why there is none."""

    admin: Engine | None
    base_url: str
    unreachable: str | None


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[_PostgresServer]:
    """One AUTOCOMMIT engine on the base database per session, checked once."""
    base_url = postgres_base_url()
    admin = sa.create_engine(
        make_url(base_url),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        poolclass=sa.pool.NullPool,
    )
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        shown = make_url(base_url).render_as_string(hide_password=True)
        first_line = str(exc.orig or exc).strip().splitlines()[0]
        yield _PostgresServer(None, base_url, f"PostgreSQL at {shown} unreachable: {first_line}")
        return
    try:
        yield _PostgresServer(admin, base_url, None)
    finally:
        admin.dispose()


@pytest.fixture
def postgres_engine(_postgres_server: _PostgresServer) -> Iterator[Engine]:
    """A fresh, migrated PostgreSQL database for this test alone; dropped afterwards."""
    server = _postgres_server
    if server.admin is None:
        reason = f"{server.unreachable} (set {POSTGRES_URL_ENV} to point elsewhere)"
        if _in_ci():
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex}"
    with server.admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(server.base_url).set(database=name)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with server.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated SQLite file database in tmp_path."""
    engine = make_engine(sqlite_url(tmp_path / "radar.db"))
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on both backends: ids "sqlite" and "postgres"."""
    backend: str = request.param
    result: Engine = request.getfixturevalue(f"{backend}_engine")
    return result


@pytest.fixture(scope="session")
def sqlite_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[], AbstractContextManager[Engine]]:
    """Makes fresh, migrated SQLite databases cheaply: copies of one migrated per session.

    `with sqlite_factory() as engine: ...` — for hypothesis examples, which cannot use
    function-scoped fixtures. Each copy is disposed and deleted when the block ends.
    """
    folder = tmp_path_factory.mktemp("radar-sqlite")
    template = folder / "template.db"
    building = make_engine(sqlite_url(template))
    try:
        migrate(building)
    finally:
        building.dispose()  # the last connection checkpoints the WAL into the file
    counter = itertools.count()

    @contextmanager
    def fresh() -> Iterator[Engine]:
        path = folder / f"copy-{next(counter)}.db"
        shutil.copyfile(template, path)
        engine = make_engine(sqlite_url(path))
        try:
            yield engine
        finally:
            engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)

    return fresh


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use postgres_engine directly carry the `postgres` marker too (as a plugin)."""
    for item in items:
        if "postgres_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


# --- Recording runs by hand: what an adapter would hand the pipeline, without fetching. ---

SOURCE_URL = "https://example.dk/inspiration/"


def html_spec(name: str = "example", *, title: str | None = None) -> HtmlSpec:
    """A minimal valid html source spec; only its name, title and URL matter to storage."""
    return HtmlSpec.model_validate(
        {
            "name": name,
            "title": title if title is not None else f"Example {name}",
            "url": SOURCE_URL,
            "item": "article",
            "fields": {"title": "h2", "link": "a @href"},
        }
    )


def make_item(key: str, title: str | None = None, **fields: Any) -> ExtractedItem:
    """An extracted item whose URL is its key on example.dk unless `url` is given."""
    fields.setdefault("url", f"https://example.dk/{key}")
    return ExtractedItem(key=key, title=title if title is not None else f"Title of {key}", **fields)


def memo(url: str, keys: Iterable[str], *, etag: str | None = None) -> CrawlMemo:
    return CrawlMemo(
        url=url, validators=Validators(etag=etag), item_keys=tuple(keys), next_url=None
    )


def record(
    engine: Engine,
    spec: SourceSpec,
    items: Iterable[ExtractedItem] = (),
    *,
    complete: bool = True,
    carried: Iterable[str] = (),
    memos: Iterable[CrawlMemo] | None = None,
    pages_fetched: int = 1,
    pages_not_modified: int = 0,
) -> RunOutcome:
    """Start a run and record one hand-made crawl through radar.recording.record_crawl.

    Without `memos`, a fetched crawl gets one memo for the listing page holding its items.
    """
    items = tuple(items)
    if memos is None:
        memos = [memo(spec.url, [item.key for item in items])] if pages_fetched else []
    crawl = Crawl(
        items=items,
        carried_keys=frozenset(carried),
        memos=tuple(memos),
        pages_fetched=pages_fetched,
        pages_not_modified=pages_not_modified,
        complete=complete,
    )
    return record_crawl(engine, spec, start_run(engine, spec), crawl)
