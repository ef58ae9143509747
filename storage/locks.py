"""One run per source at a time, across processes: a lock that dies with its holder.
(And one schema migration at a time, for processes that start together on a new database.)

PostgreSQL: a session-level advisory lock, held on a connection of its own; the server
drops it when the connection goes, so a killed process never leaves a stale lock.
SQLite (one machine by nature): an exclusive flock on a file beside the database, which
the kernel releases when the process dies. In-memory databases lock within the process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

_LOCAL: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    digest = hashlib.sha256(f"inspiration-radar:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def _postgres_lock(engine: Engine, name: str, *, wait: bool) -> Iterator[bool]:
    key = _advisory_key(name)
    with engine.connect() as connection:
        if wait:
            connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            got = True
        else:
            taken = connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            got = bool(taken.scalar())
        connection.commit()
        try:
            yield got
        finally:
            if got:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()


@contextlib.contextmanager
def _file_lock(path: Path, *, wait: bool) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _process_lock(name: str, *, wait: bool) -> Iterator[bool]:
    with _LOCAL_GUARD:
        lock = _LOCAL.setdefault(name, threading.Lock())
    got = lock.acquire(blocking=wait)
    try:
        yield got
    finally:
        if got:
            lock.release()


def source_lock(engine: Engine, name: str) -> contextlib.AbstractContextManager[bool]:
    """Context manager yielding True when this process may run `name` now, False if not."""
    return _lock(engine, f"source:{name}", file=f"{name}.lock", wait=False)


def schema_lock(engine: Engine) -> contextlib.AbstractContextManager[bool]:
    """Waits until no other process is migrating the schema of this database."""
    # A leading dot: no source name can start with one, so the files never collide.
    return _lock(engine, "schema", file=".schema.lock", wait=True)


def _lock(
    engine: Engine, name: str, *, file: str, wait: bool
) -> contextlib.AbstractContextManager[bool]:
    if engine.dialect.name == "postgresql":
        return _postgres_lock(engine, name, wait=wait)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return _file_lock(Path(database).with_suffix(".locks") / file, wait=wait)
    return _process_lock(f"{engine.url}:{name}", wait=wait)
