"""A private PostgreSQL database per test run on the machine's server (never its `test` db)."""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

DEFAULT_ADMIN_URL = "postgresql+psycopg://127.0.0.1:5432/test"


def admin_url() -> str:
    """DATABASE_URL when it names PostgreSQL, else the local server's `test` database."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return DEFAULT_ADMIN_URL


@contextlib.contextmanager
def fresh_database(prefix: str = "forkline") -> Iterator[str]:
    """CREATE DATABASE <prefix>_<random>; yields its URL; dropped (forcefully) afterwards."""
    admin = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url().rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
