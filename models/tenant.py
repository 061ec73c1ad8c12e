"""Tenants and their hashed API keys."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models.db import Base
from models.times import utcnow

KEY_PREFIX = "fk_"


def hash_api_key(key: str) -> str:
    """The sha256 hex digest stored in place of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


class Tenant(Base):
    """A customer of Forkline: owns conferences, API keys and an AI-session cap."""

    __tablename__ = "tenant"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100), unique=True)
    recording_enabled: so.Mapped[bool] = so.mapped_column(default=False)
    max_ai_sessions: so.Mapped[int] = so.mapped_column(default=5)
    # When the last customer/agent leg leaves, remove the AI and supervisors and end the room.
    end_when_humans_leave: so.Mapped[bool] = so.mapped_column(
        default=True, server_default=sa.true())
    # The Twilio number whose inbound calls belong to this tenant (routing for /twilio/voice).
    phone_number: so.Mapped[str | None] = so.mapped_column(sa.String(32), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # Tool-webhook signing: only the nonces the secrets are derived from (with TOOL_SIGNING_KEY)
    # are stored, never a secret; the previous one still signs for an overlap after a rotation.
    tool_secret_nonce: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    tool_secret_previous_nonce: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    tool_secret_rotated_at: so.Mapped[datetime | None] = so.mapped_column(
        sa.DateTime(timezone=True))

    api_keys: so.Mapped[list[ApiKey]] = so.relationship(
        back_populates="tenant", cascade="all, delete-orphan"
    )

    def issue_api_key(self) -> tuple[ApiKey, str]:
        """Create a new key; the plaintext is returned once and never stored."""
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(key_hash=hash_api_key(plaintext), prefix=plaintext[:10])
        self.api_keys.append(key)
        return key, plaintext

    def rotate_tool_nonce(self, nonce: str) -> None:
        """Make `nonce` current; the current one becomes the previous (its overlap starts now)."""
        self.tool_secret_previous_nonce = self.tool_secret_nonce
        self.tool_secret_nonce = nonce
        self.tool_secret_rotated_at = utcnow()


class ApiKey(Base):
    """A bearer token for the admin API, stored as its sha256."""

    __tablename__ = "api_key"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    tenant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    prefix: so.Mapped[str] = so.mapped_column(sa.String(16))
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(sa.DateTime(timezone=True))

    tenant: so.Mapped[Tenant] = so.relationship(back_populates="api_keys")
