"""run.capped: a run read as far as max_pages allows, and the listing went on

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:10:00

Such a run reads the same head of a listing every time, so it can finish a silent baseline
and count among the usual runs that health compares with; it still decides no removals.
Before, a listing longer than max_pages never ended its baseline: nothing was announced.
Runs recorded before this migration are taken as not capped (they were stored as partial).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite has dropped columns since 3.35): a batch
    # copy of `run` would trip the foreign keys of the events and versions that point at it.
    op.add_column("run", sa.Column("capped", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("run", "capped")
