"""AI agent profiles per tenant, and what agents leave behind: tool calls, transcripts, metrics."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models.conference import _in
from models.db import Base
from models.times import utcnow

TOOL_CALL_STATUSES = ("pending", "ok", "error", "rejected")
TRANSCRIPT_SOURCES = ("fork", "ai")
SUMMARY_METHODS = ("llm", "extractive")


class AgentProfileRecord(Base):
    """What an AI is for one tenant: instructions, voice, greeting, tools and FAQ."""

    __tablename__ = "agent_profile"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name", name="uq_agent_profile_tenant_id_name"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    tenant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(64))
    instructions: so.Mapped[str] = so.mapped_column(sa.Text)
    voice: so.Mapped[str] = so.mapped_column(sa.String(32), default="alloy")
    greeting: so.Mapped[str | None] = so.mapped_column(sa.Text)
    tools: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)  # tool names
    faq: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)  # [{"question", "answer"}]
    backend: so.Mapped[str | None] = so.mapped_column(sa.String(32))  # None -> AI_BACKEND
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ToolCallRecord(Base):
    """One tool call the AI made, with what the host answered."""

    __tablename__ = "tool_call"
    __table_args__ = (sa.CheckConstraint(_in("status", TOOL_CALL_STATUSES), name="status"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    conference_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("conference.id", ondelete="CASCADE"), index=True
    )
    call_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    call_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))  # the model's id
    name: so.Mapped[str] = so.mapped_column(sa.String(64))
    arguments: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    result: so.Mapped[dict | None] = so.mapped_column(sa.JSON)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)


class TranscriptEntry(Base):
    """One final utterance in a conference, by a labelled human fork or by the AI."""

    __tablename__ = "transcript_entry"
    __table_args__ = (
        sa.CheckConstraint(_in("source", TRANSCRIPT_SOURCES), name="source"),
        sa.Index("ix_transcript_entry_conference_id_started_at", "conference_id", "started_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    conference_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("conference.id", ondelete="CASCADE")
    )
    seq: so.Mapped[int] = so.mapped_column(default=0)  # order among equal start times
    speaker: so.Mapped[str] = so.mapped_column(sa.String(64))  # participant label or "ai"
    role: so.Mapped[str] = so.mapped_column(sa.String(16))
    text: so.Mapped[str] = so.mapped_column(sa.Text)
    started_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True))
    ended_at: so.Mapped[datetime | None] = so.mapped_column(sa.DateTime(timezone=True))
    source: so.Mapped[str] = so.mapped_column(sa.String(8))
    # The AI's response item (barge-in cuts name it) and whether a caller cut the line short.
    item_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    interrupted: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())


class ConferenceSummary(Base):
    """The summary stored when a conference ends."""

    __tablename__ = "conference_summary"
    __table_args__ = (sa.CheckConstraint(_in("method", SUMMARY_METHODS), name="method"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    conference_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("conference.id", ondelete="CASCADE"), unique=True
    )
    text: so.Mapped[str] = so.mapped_column(sa.Text)
    method: so.Mapped[str] = so.mapped_column(sa.String(16))
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)


class TurnMetric(Base):
    """Per-turn latencies of an AI backend, in milliseconds (None when a stage did not run)."""

    __tablename__ = "turn_metric"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    conference_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("conference.id", ondelete="CASCADE"), index=True
    )
    backend: so.Mapped[str] = so.mapped_column(sa.String(32))
    stt_ms: so.Mapped[float | None]
    llm_first_token_ms: so.Mapped[float | None]
    tts_first_audio_ms: so.Mapped[float | None]
    end_to_end_ms: so.Mapped[float | None]
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
