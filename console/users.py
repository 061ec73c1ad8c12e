"""Console user use cases: create, authenticate, load; shared by the CLI and the console."""
from __future__ import annotations

import sqlalchemy as sa
from flask_login import UserMixin

from console.passwords import hash_password, needs_rehash, password_problem, verify_password
from models import ConsoleUser, Tenant, get_session, transaction
from models.times import utcnow
from models.user import USER_ROLES


class UserError(ValueError):
    """A refused user creation; the message is safe to show."""


class SignedInUser(UserMixin):
    """The flask-login view of a ConsoleUser: ids and role only, never the hash."""

    def __init__(self, user: ConsoleUser, tenant_name: str) -> None:
        self.id, self.tenant_id, self.email = user.id, user.tenant_id, user.email
        self.role, self.tenant_name = user.role, tenant_name

    @property
    def is_admin(self) -> bool:
        """True for tenant admins."""
        return self.role == "admin"


def normalize_email(email: str) -> str:
    """E-mails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def create_user(tenant_name: str, email: str, role: str, password: str) -> ConsoleUser:
    """Create a user of tenant `tenant_name`; raises UserError with a reason."""
    email = normalize_email(email)
    if role not in USER_ROLES:
        raise UserError(f"role must be one of {', '.join(USER_ROLES)}")
    if "@" not in email or len(email) > 254:
        raise UserError("email is not an e-mail address")
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    with transaction() as session:
        tenant = session.scalar(sa.select(Tenant).where(Tenant.name == tenant_name))
        if tenant is None:
            raise UserError(f"no tenant {tenant_name!r}")
        if session.scalar(sa.select(ConsoleUser.id).where(
                ConsoleUser.tenant_id == tenant.id, ConsoleUser.email == email)):
            raise UserError(f"user {email!r} already exists in tenant {tenant_name!r}")
        user = ConsoleUser(tenant_id=tenant.id, email=email, role=role,
                           password_hash=hash_password(password))
        session.add(user)
    return user


def authenticate(tenant_name: str, email: str, password: str) -> SignedInUser | None:
    """The signed-in user for these credentials, or None (same cost either way)."""
    session = get_session()
    row = session.execute(sa.select(ConsoleUser, Tenant.name).join(Tenant).where(
        Tenant.name == tenant_name.strip(), ConsoleUser.email == normalize_email(email),
        ConsoleUser.active.is_(True))).first()
    if not verify_password(row[0].password_hash if row else None, password):
        return None
    user = row[0]
    with transaction():
        user.last_sign_in_at = utcnow()
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
    return SignedInUser(user, row[1])


def load_user(user_id: str) -> SignedInUser | None:
    """flask-login's loader: an active user by id, else None."""
    if not user_id.isdigit():
        return None
    row = get_session().execute(sa.select(ConsoleUser, Tenant.name).join(Tenant).where(
        ConsoleUser.id == int(user_id), ConsoleUser.active.is_(True))).first()
    return SignedInUser(row[0], row[1]) if row else None


def tenant_users(tenant_id: int) -> list[ConsoleUser]:
    """The tenant's users, by e-mail."""
    return list(get_session().scalars(sa.select(ConsoleUser).where(
        ConsoleUser.tenant_id == tenant_id).order_by(ConsoleUser.email)))
