"""Console users: people who sign in to /console, one tenant each, with a role."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models.conference import _in
from models.db import Base
from models.times import utcnow

USER_ROLES = ("supervisor", "admin")


class ConsoleUser(Base):
    """A console user; `password_hash` is an argon2 PHC string, never the password."""

    __tablename__ = "console_user"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "email", name="uq_console_user_tenant_id_email"),
        sa.CheckConstraint(_in("role", USER_ROLES), name="role"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    tenant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    role: so.Mapped[str] = so.mapped_column(sa.String(16))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_sign_in_at: so.Mapped[datetime | None] = so.mapped_column(sa.DateTime(timezone=True))

    @property
    def is_admin(self) -> bool:
        """True for tenant admins (users and agent profiles)."""
        return self.role == "admin"
