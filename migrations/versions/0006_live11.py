"""live transcript: transcript_entry.item_id and .interrupted (barge-in cut lines)

Revision ID: 0006_live11
Revises: 0005_sec10
Create Date: 2026-12-02 02:20:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006_live11'
down_revision = '0005_sec10'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('transcript_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('interrupted', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('transcript_entry', schema=None) as batch_op:
        batch_op.drop_column('interrupted')
        batch_op.drop_column('item_id')
