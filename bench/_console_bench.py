"""What the console benches share: the demo's console stack on a private PostgreSQL database
and Redis database, and its supervisor's credentials."""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]  # the demo's stack, page helpers

from demo_console import EMAIL, TENANT, start_console  # noqa: E402
from demo_stack import Stack  # noqa: E402

__all__ = ["EMAIL", "PASSWORD", "TENANT", "arguments", "console_stack", "start_console"]

PASSWORD = "bench password 0123456"


def arguments(doc: str) -> argparse.ArgumentParser:
    """A console bench's command line: `doc`'s first line, and --database-url (the PostgreSQL
    server its private database is made on; see console_stack)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1/test")
    return parser


def _database(admin_url: str):
    name = f"forkline_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin, name, admin_url.rpartition("/")[0] + "/" + name


@contextlib.contextmanager
def console_stack(admin_url: str) -> Iterator[Stack]:
    """The demo's Stack (Procfile servers, echo AI) on a fresh database of the PostgreSQL server
    at `admin_url` and a Redis database of its own; stopped, and the database dropped, after."""
    admin, db_name, db_url = _database(admin_url)
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), server="procfile", database_url=db_url)
        stack.env.update(AI_BACKEND="echo", LOG_LEVEL="WARNING",
                         REDIS_URL=f"redis://127.0.0.1:6379/{random.randint(1, 15)}")
        try:
            yield stack
        finally:
            stack.stop()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
