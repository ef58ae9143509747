"""source.rebaseline: an operator asks for the next run to be a silent baseline

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 15:40:00

After a redesign the operator has checked (far fewer items, a field gone, new URLs), every
run looked like a redesign and was set aside as suspect, for good: nothing was announced.
`radar rebaseline NAME` sets this flag; the source's next finished run is recorded as a
silent baseline and clears it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, as in 0009: a batch copy of `source` would trip its foreign keys.
    op.add_column(
        "source", sa.Column("rebaseline", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("source", "rebaseline")
