"""item: no last_seen, and PostgreSQL's default fillfactor again

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:40:00

Every run rewrote last_seen on every item it saw, and nothing read it. On PostgreSQL that
was a new row version for each of a source's items at each run: ~1 s of the ~2.5 s a
second run of 100,000 items took (`python -m bench.store_job store --items 100000`), and
all of it WAL and vacuum work besides. A run now writes only the items that changed. That
an item is still listed is what the runs record: an item not removed was on the listing at
its source's last complete run. With no per-run update left, the room fillfactor 60 kept
in every page (migration 0006) would only be waste.

Downgrading brings last_seen back as the item's removal time, else the end of its
source's last complete run, else its last update. On SQLite the column comes back
nullable: making it NOT NULL there would rebuild the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LAST_COMPLETE_RUN = (
    "SELECT MAX(run.finished_at) FROM run WHERE run.source_id = item.source_id "
    "AND run.status IN ('baseline', 'ok', 'unchanged')"
)


def upgrade() -> None:
    op.drop_column("item", "last_seen")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE item RESET (fillfactor)")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE item SET (fillfactor = 60)")
    column = sa.Column("last_seen", storage.models.UTCDateTime(timezone=True), nullable=True)
    op.add_column("item", column)
    op.execute(
        f"UPDATE item SET last_seen = COALESCE(removed_at, ({LAST_COMPLETE_RUN}), updated_at)"
    )
    if postgresql:
        op.alter_column("item", "last_seen", nullable=False)
