"""core schema: tenants, conferences, participants, streams, events

Revision ID: 0001_core
Revises: 
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001_core'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tenant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('recording_enabled', sa.Boolean(), nullable=False),
    sa.Column('max_ai_sessions', sa.Integer(), nullable=False),
    sa.Column('phone_number', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant')),
    sa.UniqueConstraint('name', name=op.f('uq_tenant_name')),
    sa.UniqueConstraint('phone_number', name=op.f('uq_tenant_phone_number'))
    )
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_api_key_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_key_key_hash'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('conference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('twilio_sid', sa.String(length=34), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'in-progress', 'completed', 'failed')", name=op.f('ck_conference_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_conference_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conference')),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_conference_tenant_id_name'),
    sa.UniqueConstraint('twilio_sid', name=op.f('uq_conference_twilio_sid'))
    )
    with op.batch_alter_table('conference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conference_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('conference_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('sequence_number', sa.Integer(), nullable=True),
    sa.Column('call_sid', sa.String(length=34), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('dedup_key', sa.String(length=128), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('conference', 'call', 'stream', 'media', 'api')", name=op.f('ck_conference_event_source')),
    sa.ForeignKeyConstraint(['conference_id'], ['conference.id'], name=op.f('fk_conference_event_conference_id_conference'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conference_event')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_conference_event_dedup_key'))
    )
    with op.batch_alter_table('conference_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conference_event_call_sid'), ['call_sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_conference_event_conference_id'), ['conference_id'], unique=False)

    op.create_table('participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sa.String(length=34), nullable=True),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('agent', sa.String(length=64), nullable=True),
    sa.Column('to', sa.String(length=255), nullable=True),
    sa.Column('muted', sa.Boolean(), nullable=False),
    sa.Column('hold', sa.Boolean(), nullable=False),
    sa.Column('coaching', sa.Boolean(), nullable=False),
    sa.Column('coach_label', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fork_started', sa.Boolean(), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('customer', 'agent', 'supervisor', 'ai')", name=op.f('ck_participant_role')),
    sa.CheckConstraint("status IN ('queued', 'ringing', 'in-progress', 'joined', 'left', 'failed')", name=op.f('ck_participant_status')),
    sa.ForeignKeyConstraint(['conference_id'], ['conference.id'], name=op.f('fk_participant_conference_id_conference'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant')),
    sa.UniqueConstraint('call_sid', name=op.f('uq_participant_call_sid')),
    sa.UniqueConstraint('conference_id', 'label', name='uq_participant_conference_id_label')
    )
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participant_conference_id'), ['conference_id'], unique=False)

    op.create_table('stream',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('stream_sid', sa.String(length=64), nullable=False),
    sa.Column('call_sid', sa.String(length=34), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('track', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('fork', 'ai')", name=op.f('ck_stream_kind')),
    sa.CheckConstraint("status IN ('started', 'stopped', 'failed', 'dropped')", name=op.f('ck_stream_status')),
    sa.ForeignKeyConstraint(['conference_id'], ['conference.id'], name=op.f('fk_stream_conference_id_conference'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_stream_participant_id_participant'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stream')),
    sa.UniqueConstraint('stream_sid', name=op.f('uq_stream_stream_sid'))
    )
    with op.batch_alter_table('stream', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stream_call_sid'), ['call_sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_stream_conference_id'), ['conference_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stream_participant_id'), ['participant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stream', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stream_participant_id'))
        batch_op.drop_index(batch_op.f('ix_stream_conference_id'))
        batch_op.drop_index(batch_op.f('ix_stream_call_sid'))

    op.drop_table('stream')
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participant_conference_id'))

    op.drop_table('participant')
    with op.batch_alter_table('conference_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conference_event_conference_id'))
        batch_op.drop_index(batch_op.f('ix_conference_event_call_sid'))

    op.drop_table('conference_event')
    with op.batch_alter_table('conference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conference_tenant_id'))

    op.drop_table('conference')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_tenant_id'))

    op.drop_table('api_key')
    op.drop_table('tenant')
