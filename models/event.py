"""Every Twilio callback (and API action), stored raw for audit and idempotency."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models.conference import _in
from models.db import Base
from models.times import utcnow

EVENT_SOURCES = ("conference", "call", "stream", "media", "api")


class ConferenceEvent(Base):
    """One callback; `dedup_key` makes a redelivered callback a no-op."""

    __tablename__ = "conference_event"
    __table_args__ = (sa.CheckConstraint(_in("source", EVENT_SOURCES), name="source"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    conference_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("conference.id", ondelete="CASCADE"), index=True
    )
    source: so.Mapped[str] = so.mapped_column(sa.String(16))
    event: so.Mapped[str] = so.mapped_column(sa.String(64))
    sequence_number: so.Mapped[int | None]
    call_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34), index=True)
    payload: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    dedup_key: so.Mapped[str] = so.mapped_column(sa.String(128), unique=True)
    received_at: so.Mapped[datetime] = so.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )
