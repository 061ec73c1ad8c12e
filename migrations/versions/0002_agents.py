"""agents: profiles, tool calls, transcripts, summaries, turn metrics

Revision ID: 0002_agents
Revises: 0001_core
Create Date: 2026-11-25 17:20:17.175573
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002_agents'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('voice', sa.String(length=32), nullable=False),
    sa.Column('greeting', sa.Text(), nullable=True),
    sa.Column('tools', sa.JSON(), nullable=False),
    sa.Column('faq', sa.JSON(), nullable=False),
    sa.Column('backend', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_agent_profile_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_profile')),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_agent_profile_tenant_id_name')
    )
    with op.batch_alter_table('agent_profile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_profile_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('conference_summary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("method IN ('llm', 'extractive')", name=op.f('ck_conference_summary_method')),
    sa.ForeignKeyConstraint(['conference_id'], ['conference.id'], name=op.f('fk_conference_summary_conference_id_conference'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conference_summary')),
    sa.UniqueConstraint('conference_id', name=op.f('uq_conference_summary_conference_id'))
    )
    op.create_table('tool_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=True),
    sa.Column('call_sid', sa.String(length=34), nullable=True),
    sa.Column('call_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'ok', 'error', 'rejected')", name=op.f('ck_tool_call_status')),
    sa.ForeignKeyConstraint(['conference_id'], ['conference.id'], name=op.f('fk_tool_call_conference_id_conference'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tool_call'))
    )
    with op.batch_alter_table('tool_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tool_call_conference_id'), ['conference_id'], unique=False)

    op.create_table('transcript_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('speaker', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.CheckConstraint("source IN ('fork', 'ai')", name=op.f('ck_transcript_entry_source')),
    sa.ForeignKeyConstraint(['conference_id'], ['conference.id'], name=op.f('fk_transcript_entry_conference_id_conference'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transcript_entry'))
    )
    with op.batch_alter_table('transcript_entry', schema=None) as batch_op:
        batch_op.create_index('ix_transcript_entry_conference_id_started_at', ['conference_id', 'started_at'], unique=False)

    op.create_table('turn_metric',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=True),
    sa.Column('backend', sa.String(length=32), nullable=False),
    sa.Column('stt_ms', sa.Double(), nullable=True),
    sa.Column('llm_first_token_ms', sa.Double(), nullable=True),
    sa.Column('tts_first_audio_ms', sa.Double(), nullable=True),
    sa.Column('end_to_end_ms', sa.Double(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conference_id'], ['conference.id'], name=op.f('fk_turn_metric_conference_id_conference'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_turn_metric'))
    )
    with op.batch_alter_table('turn_metric', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_turn_metric_conference_id'), ['conference_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('turn_metric', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_turn_metric_conference_id'))

    op.drop_table('turn_metric')
    with op.batch_alter_table('transcript_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_transcript_entry_conference_id_started_at')

    op.drop_table('transcript_entry')
    with op.batch_alter_table('tool_call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tool_call_conference_id'))

    op.drop_table('tool_call')
    op.drop_table('conference_summary')
    with op.batch_alter_table('agent_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_profile_tenant_id'))

    op.drop_table('agent_profile')
