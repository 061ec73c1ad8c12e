"""call flow: tenant.end_when_humans_leave

Revision ID: 0004_call_flow
Revises: 0003_console_users
Create Date: 2026-12-01 23:50:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004_call_flow'
down_revision = '0003_console_users'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('end_when_humans_leave', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_column('end_when_humans_leave')
