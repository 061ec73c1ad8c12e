"""Conferences and their participants."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models.db import Base
from models.times import utcnow

CONFERENCE_STATUSES = ("pending", "in-progress", "completed", "failed")
ROLES = ("customer", "agent", "supervisor", "ai")
MODES = ("speak", "whisper", "listen", "barge")
PARTICIPANT_STATUSES = ("queued", "ringing", "in-progress", "joined", "left", "failed")
# Roles whose leg is forked to the fork socket; the AI and supervisors never are.
FORKED_ROLES = ("customer", "agent")
ENDED_PARTICIPANT_STATUSES = ("left", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Conference(Base):
    """A conference, addressed by its name (unique per tenant)."""

    __tablename__ = "conference"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name", name="uq_conference_tenant_id_name"),
        sa.CheckConstraint(_in("status", CONFERENCE_STATUSES), name="status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    tenant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(64))
    twilio_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34), unique=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    started_at: so.Mapped[datetime | None] = so.mapped_column(sa.DateTime(timezone=True))
    ended_at: so.Mapped[datetime | None] = so.mapped_column(sa.DateTime(timezone=True))

    participants: so.Mapped[list[Participant]] = so.relationship(
        back_populates="conference", cascade="all, delete-orphan", order_by="Participant.id"
    )

    @property
    def twilio_name(self) -> str:
        """The FriendlyName used at Twilio: one account serves every tenant, so it is prefixed."""
        return twilio_friendly_name(self.tenant_id, self.name)

    @property
    def is_active(self) -> bool:
        """True until the conference has completed or failed."""
        return self.status in ("pending", "in-progress")

    @property
    def live_ai(self) -> Participant | None:
        """The AI participant that is still in the call, if any."""
        return next((p for p in self.participants if p.role == "ai" and p.is_present), None)

    @property
    def latest_ai(self) -> Participant | None:
        """The live AI participant, else the last one that was dialed, else None."""
        ais = [p for p in self.participants if p.role == "ai"]
        return next((p for p in ais if p.is_present), ais[-1] if ais else None)


def tenant_number(tenant: str | int | None) -> int | None:
    """A tenant id given as a stream parameter or a number ("7", 7); None when it is not one."""
    text = str(tenant) if tenant is not None else ""
    return int(text) if text.isdigit() else None


def conference_id(session: so.Session, tenant: str | int | None, name: str | None) -> int | None:
    """The id of conference `name` of `tenant` (as in `tenant_number`); None when unknown."""
    tenant_id = tenant_number(tenant)
    if tenant_id is None or not name:
        return None
    return session.scalar(sa.select(Conference.id).where(
        Conference.tenant_id == tenant_id, Conference.name == name))


def twilio_friendly_name(tenant_id: int, name: str) -> str:
    """The Twilio FriendlyName of conference `name` of tenant `tenant_id`."""
    return f"t{tenant_id}-{name}"


def parse_friendly_name(friendly_name: str) -> tuple[int, str] | None:
    """(tenant_id, name) from a Twilio FriendlyName, or None when it is not one of ours."""
    head, sep, name = friendly_name.partition("-")
    if not sep or not name or not head.startswith("t") or not head[1:].isdigit():
        return None
    return int(head[1:]), name


class Participant(Base):
    """One leg of a conference: a human, a supervisor or the AI."""

    __tablename__ = "participant"
    __table_args__ = (
        sa.UniqueConstraint("conference_id", "label", name="uq_participant_conference_id_label"),
        sa.CheckConstraint(_in("role", ROLES), name="role"),
        sa.CheckConstraint(_in("status", PARTICIPANT_STATUSES), name="status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    conference_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("conference.id", ondelete="CASCADE"), index=True
    )
    call_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34), unique=True)
    label: so.Mapped[str] = so.mapped_column(sa.String(64))
    role: so.Mapped[str] = so.mapped_column(sa.String(16))
    mode: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    agent: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    to: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    muted: so.Mapped[bool] = so.mapped_column(default=False)
    hold: so.Mapped[bool] = so.mapped_column(default=False)
    coaching: so.Mapped[bool] = so.mapped_column(default=False)
    coach_label: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="queued")
    fork_started: so.Mapped[bool] = so.mapped_column(default=False)
    # Highest conference-event SequenceNumber applied; older events never overwrite newer state.
    last_sequence: so.Mapped[int] = so.mapped_column(default=-1)
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    joined_at: so.Mapped[datetime | None] = so.mapped_column(sa.DateTime(timezone=True))
    left_at: so.Mapped[datetime | None] = so.mapped_column(sa.DateTime(timezone=True))

    conference: so.Mapped[Conference] = so.relationship(back_populates="participants")

    @property
    def is_present(self) -> bool:
        """True while the leg has not left or failed."""
        return self.status not in ENDED_PARTICIPANT_STATUSES

    @property
    def pending_coach(self) -> bool:
        """True for a whisperer still muted because the leg it coaches has not joined."""
        return self.mode == "whisper" and not self.coaching and self.is_present

    @property
    def forkable(self) -> bool:
        """True for the roles whose audio is forked (customers and agents)."""
        return self.role in FORKED_ROLES
