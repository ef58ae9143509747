"""item_version keeps only the states a run replaced; the current state is the item row

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 07:40:00

Until now every item had a version row for its current state too, a copy of its own row:
a first run of 100,000 items wrote 200,000 rows, and on PostgreSQL the copy (with a
foreign-key check on each row) took ~1.8 of its ~4.5 s. The newest version of each item
is that copy, so it goes. Each remaining version now names the run that replaced it (the
run of the version after it), where it used to name the run that recorded it;
`recorded_at` still says when it was first seen. Only items that ever changed have more
than one version, so the rewrite touches few rows.

Downgrading gives the kept versions their recording runs back (but the oldest, whose is
not known) and writes each item's current state back as its newest version.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSION = sa.table(
    "item_version",
    sa.column("id", sa.Integer),
    sa.column("item_id", sa.Integer),
    sa.column("run_id", sa.Integer),
)


def _successive(connection: sa.Connection) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Each pair of successive versions of one item, as (id, run_id), oldest first."""
    several = (
        sa.select(VERSION.c.item_id)
        .group_by(VERSION.c.item_id)
        .having(sa.func.count() > 1)
        .scalar_subquery()
    )
    rows = connection.execute(
        sa.select(VERSION.c.item_id, VERSION.c.id, VERSION.c.run_id)
        .where(VERSION.c.item_id.in_(several))
        .order_by(VERSION.c.item_id, VERSION.c.id)
    )
    versions: dict[int, list[tuple[int, int]]] = {}
    for item_id, version_id, run_id in rows:
        versions.setdefault(item_id, []).append((version_id, run_id))
    return [pair for each in versions.values() for pair in zip(each, each[1:], strict=False)]


def _set_runs(connection: sa.Connection, runs: list[dict[str, int]]) -> None:
    if runs:
        statement = (
            sa.update(VERSION)
            .where(VERSION.c.id == sa.bindparam("version_id"))
            .values(run_id=sa.bindparam("new_run_id"))
        )
        connection.execute(statement, runs)


def upgrade() -> None:
    connection = op.get_bind()
    pairs = _successive(connection)
    _set_runs(connection, [{"version_id": old[0], "new_run_id": new[1]} for old, new in pairs])
    newest = sa.select(sa.func.max(VERSION.c.id)).group_by(VERSION.c.item_id).scalar_subquery()
    connection.execute(sa.delete(VERSION).where(VERSION.c.id.in_(newest)))


def downgrade() -> None:
    connection = op.get_bind()
    # Each version's recording run is the replacing run of the one before it (the oldest
    # one's is not known: it keeps its own); the current state's, that of the newest.
    pairs = _successive(connection)
    op.execute(
        """
        INSERT INTO item_version (item_id, run_id, recorded_at, title, summary, category,
                                  date, fingerprint)
        SELECT item.id,
               COALESCE(
                   (SELECT v.run_id FROM item_version v WHERE v.item_id = item.id
                    ORDER BY v.id DESC LIMIT 1),
                   (SELECT min(run.id) FROM run WHERE run.source_id = item.source_id)),
               item.updated_at, item.title, item.summary, item.category,
               CASE item.date_precision
                   WHEN 'year' THEN substr(CAST(item.date_value AS TEXT), 1, 4)
                   WHEN 'month' THEN substr(CAST(item.date_value AS TEXT), 1, 7)
                   WHEN 'day' THEN substr(CAST(item.date_value AS TEXT), 1, 10)
               END,
               item.fingerprint
        FROM item ORDER BY item.id
        """
    )
    _set_runs(connection, [{"version_id": new[0], "new_run_id": old[1]} for old, new in pairs])
