"""Inserting many rows at once, in the caller's transaction, as fast as each database takes them.

SQLAlchemy's executemany converts every parameter of every row on its own (a dict per row,
each value through its type), which cost more than the database's own work for 100,000
rows. Here each column's values go through the same bind processors SQLAlchemy would use,
but once per column, and the rows reach the driver as plain tuples: COPY on PostgreSQL
(psycopg's executemany waits on the server row by row), one executemany on SQLite.
"""

from __future__ import annotations

from itertools import repeat
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    import sqlalchemy as sa
    from sqlalchemy.engine import Connection


def _processed(column: sa.Column[Any], dialect: sa.Dialect, values: Iterable[Any]) -> list[Any]:
    """`values` as SQLAlchemy would bind them to `column` (a JSON column's text, a
    datetime's UTC form, SQLite's text dates and 0/1 booleans)."""
    process = column.type._cached_bind_processor(dialect)
    return list(values) if process is None else [process(value) for value in values]


def _target(connection: Connection, table: sa.Table, names: list[str]) -> str:
    """`table (column, …)`, quoted for the connection's database."""
    preparer = connection.dialect.identifier_preparer
    return f"{preparer.format_table(table)} ({', '.join(preparer.quote(name) for name in names)})"


def _copy(
    connection: Connection, table: sa.Table, names: list[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    target = _target(connection, table, names)
    with driver.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def insert_rows(
    connection: Connection,
    table: sa.Table,
    columns: Mapping[str, Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert one row per position of the equal-length `columns`; `same` holds the columns
    whose value is the same in every row (converted once)."""
    same = same or {}
    count = len(next(iter(columns.values()), ()))
    if count == 0:
        return
    if any(len(values) != count for values in columns.values()):
        raise ValueError(f"columns of unequal length for {table.name}")
    dialect = connection.dialect
    names = [*columns, *same]
    varying = [_processed(table.c[name], dialect, values) for name, values in columns.items()]
    fixed = [_processed(table.c[name], dialect, [value])[0] for name, value in same.items()]
    rows = zip(*varying, *(repeat(value, count) for value in fixed), strict=False)
    if dialect.name == "postgresql":
        _copy(connection, table, names, rows)
        return
    if dialect.paramstyle != "qmark":
        raise NotImplementedError(f"bulk inserts on {dialect.name} ({dialect.paramstyle})")
    marks = ", ".join("?" for _ in names)
    connection.exec_driver_sql(
        f"INSERT INTO {_target(connection, table, names)} VALUES ({marks})", list(rows)
    )
