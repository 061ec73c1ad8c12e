"""sec10: per-tenant tool-webhook secret nonces (the secrets themselves are never stored)

Revision ID: 0005_sec10
Revises: 0004_call_flow
Create Date: 2026-12-02 02:20:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005_sec10'
down_revision = '0004_call_flow'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tool_secret_nonce', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('tool_secret_previous_nonce', sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('tool_secret_rotated_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_column('tool_secret_rotated_at')
        batch_op.drop_column('tool_secret_previous_nonce')
        batch_op.drop_column('tool_secret_nonce')
