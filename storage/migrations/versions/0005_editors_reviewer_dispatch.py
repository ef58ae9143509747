"""editors (review page accounts), item.reviewed_by, run.dispatch_id

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('editor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reviewed_by', sa.String(length=64), nullable=True))
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_run_dispatch_id'), ['dispatch_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_dispatch_id'))
        batch_op.drop_column('dispatch_id')
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_column('reviewed_by')
    op.drop_table('editor')
