"""Inserting many rows at once, in the caller's transaction, as fast as each database takes them.

SQLAlchemy's executemany converts every parameter of every row on its own (a dict per row,
each value through its type), which cost more than the database's own work for 100,000
rows. Here each column's values go through the same bind processors SQLAlchemy would use,
but once per column, and the rows reach the driver as plain tuples: COPY on PostgreSQL
(psycopg's executemany waits on the server row by row), one executemany on SQLite.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from itertools import repeat
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from sqlalchemy.engine import Connection
    from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> sa.Table:
    """The model's Core table, for inserts that skip the ORM's per-row bookkeeping."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    return table


def _processed(column: sa.Column[Any], dialect: sa.Dialect, values: Sequence[Any]) -> list[Any]:
    """`values` as SQLAlchemy would bind them to `column` (a JSON column's text, a
    datetime's UTC form, SQLite's text dates and 0/1 booleans)."""
    process = column.type._cached_bind_processor(dialect)
    if process is None and isinstance(column.type, sa.String):
        # Most values are ASCII (hashes, URLs): checked inline, without a call each.
        return [
            _unshared(value) if type(value) is str and not value.isascii() else value
            for value in values
        ]
    if process is None:
        return list(values)
    if isinstance(column.type, sa.JSON):
        return [_json_text(value, process) for value in values]
    if isinstance(column.type, sa.Date):
        # A source's items share a few thousand dates: each converted once.
        distinct = {value: process(value) for value in set(values)}
        return [distinct[value] for value in values]
    return [process(value) for value in values]


def _unshared(value: str) -> str:
    """A (non-ASCII) string as a new object of its own, for the driver to bind and drop.

    Both drivers (sqlite3, psycopg's COPY) keep the UTF-8 form of every non-ASCII str they
    bind inside that str, for as long as it lives. Bound directly, each title and summary of
    a run's items would carry a second copy until the run ends: ~5 MB more at the peak of a
    20,000-item first run with its detail pages (bench/README.md). A copy made here goes
    with its row.
    """
    return "".join((value, ""))  # two parts: join makes a new string; one would be reused


def _json_text(value: Any, process: Callable[[Any], Any]) -> Any:
    """A list or dict as the JSON text SQLAlchemy's serializer (json.dumps) makes of it.

    Text is what both databases store: on PostgreSQL, COPY parses it, where SQLAlchemy's own
    processor wraps each value for psycopg to serialize again. Anything else (None, which
    SQLAlchemy stores as JSON null) goes through SQLAlchemy's processor.
    """
    if type(value) is list or type(value) is dict:
        return json.dumps(value) if value else _EMPTY_JSON[type(value)]
    return process(value)


_EMPTY_JSON: dict[type, str] = {list: "[]", dict: "{}"}


def _target(connection: Connection, table: sa.Table, names: list[str]) -> str:
    """`table (column, …)`, quoted for the connection's database."""
    preparer = connection.dialect.identifier_preparer
    return f"{preparer.format_table(table)} ({', '.join(preparer.quote(name) for name in names)})"


@contextmanager
def _writer(
    connection: Connection, table: sa.Table, names: list[str]
) -> Iterator[Callable[[Iterable[tuple[Any, ...]]], None]]:
    """A function that sends rows to the database: one COPY on PostgreSQL (psycopg's
    executemany waits on the server row by row), sqlite3's own executemany on SQLite."""
    driver = connection.connection.driver_connection
    assert driver is not None
    target = _target(connection, table, names)
    if connection.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:

            def write_rows(rows: Iterable[tuple[Any, ...]]) -> None:
                for row in rows:
                    copy.write_row(row)

            yield write_rows
        return
    if connection.dialect.paramstyle != "qmark":
        raise NotImplementedError(f"bulk inserts on {connection.dialect.name}")
    statement = f"INSERT INTO {target} VALUES ({', '.join('?' * len(names))})"
    # sqlite3 itself: it takes the rows as an iterator, where SQLAlchemy wants a list.
    yield lambda rows: driver.executemany(statement, rows)


def insert_rows(
    connection: Connection,
    table: sa.Table,
    columns: Mapping[str, Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert one row per position of the equal-length `columns`; `same` holds the columns
    whose value is the same in every row (converted once)."""
    insert_batches(connection, table, [columns], same=same)


def insert_batches(
    connection: Connection,
    table: sa.Table,
    batches: Iterable[Mapping[str, Sequence[Any]]],
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert batch after batch of rows, each given as columns (see insert_rows), all with
    the same column names.

    `batches` is read lazily, as the driver takes the rows: a run never holds every row of
    a large insert converted at once.
    """
    dialect = connection.dialect
    fixed = {
        name: _processed(table.c[name], dialect, [value])[0] for name, value in (same or {}).items()
    }
    # A column NULL in every row is left to the database: sqlite3 binds None through its
    # adapter lookup, which costs as much as a row's other columns together (callgrind, 20,000
    # rows of a new item: 1.66 instead of 2.06 G instructions without five such columns).
    fixed = {name: value for name, value in fixed.items() if not _left_null(table.c[name], value)}
    pending = iter(batches)
    batch = next(pending, None)
    if batch is None:
        return
    names = [*batch, *fixed]
    with _writer(connection, table, names) as write_rows:
        while batch is not None:
            write_rows(_rows(table, dialect, batch, fixed, names))
            # Let go of this batch before the next one is shaped: one is held at a time.
            batch = None
            batch = next(pending, None)


def _left_null(column: sa.Column[Any], value: Any) -> bool:
    """Whether leaving `column` out of an INSERT stores `value` (NULL, with no default)."""
    return value is None and column.nullable is True and column.server_default is None


def _rows(
    table: sa.Table,
    dialect: sa.Dialect,
    columns: Mapping[str, Sequence[Any]],
    fixed: Mapping[str, Any],
    names: list[str],
) -> Iterator[tuple[Any, ...]]:
    """One batch's rows, converted column by column, with the fixed values appended."""
    if [*columns, *fixed] != names:
        raise ValueError(f"a batch for {table.name} has other columns than the first")
    count = len(next(iter(columns.values()), ()))
    if any(len(values) != count for values in columns.values()):
        raise ValueError(f"columns of unequal length for {table.name}")
    varying = [_processed(table.c[name], dialect, values) for name, values in columns.items()]
    return zip(*varying, *(repeat(value, count) for value in fixed.values()), strict=False)
