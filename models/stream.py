"""Media streams: forks of human legs and the AI's bidirectional stream."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models.conference import _in
from models.db import Base
from models.times import utcnow

STREAM_KINDS = ("fork", "ai")
STREAM_STATUSES = ("started", "stopped", "failed", "dropped")


class Stream(Base):
    """One Media Stream, keyed by its MZ sid."""

    __tablename__ = "stream"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", STREAM_KINDS), name="kind"),
        sa.CheckConstraint(_in("status", STREAM_STATUSES), name="status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    conference_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("conference.id", ondelete="CASCADE"), index=True
    )
    participant_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("participant.id", ondelete="SET NULL"), index=True
    )
    stream_sid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    call_sid: so.Mapped[str] = so.mapped_column(sa.String(34), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(8))
    track: so.Mapped[str] = so.mapped_column(sa.String(16), default="inbound_track")
    name: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="started")
    started_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    stopped_at: so.Mapped[datetime | None] = so.mapped_column(sa.DateTime(timezone=True))
