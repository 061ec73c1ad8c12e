"""Engine and session lifecycle for the app; the only place sessions are created."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(so.DeclarativeBase):
    """Declarative base with a naming convention so Alembic diffs stay stable."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


SQLITE_LOCK_TIMEOUT_S = 30


def make_engine(url: str) -> sa.Engine:
    """Create an engine; SQLite gets settings that suit greenlets and foreign keys."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False,
                                                "timeout": SQLITE_LOCK_TIMEOUT_S})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def init_app(app: Flask) -> None:
    """Bind an engine and a scoped session factory to `app`."""
    engine = make_engine(app.config["DATABASE_URL"])
    factory = so.sessionmaker(bind=engine, expire_on_commit=False)
    app.extensions["db_engine"] = engine
    app.extensions["db_session"] = so.scoped_session(factory)
    if engine.dialect.name == "sqlite":
        # SQLite's busy wait sleeps in C: under gevent a writer waiting for the file lock would
        # freeze the whole worker, including the greenlet that holds the lock (e.g. across a
        # Twilio request whose callbacks write). Writers queue on a cooperative lock instead.
        app.extensions["db_write_lock"] = threading.RLock()
    app.teardown_appcontext(_remove_session)


def _remove_session(_exc: BaseException | None) -> None:
    current_app.extensions["db_session"].remove()


def get_session() -> so.Session:
    """The session bound to the current app context (one per greenlet)."""
    return current_app.extensions["db_session"]()


def get_engine() -> sa.Engine:
    """The engine bound to the current app."""
    return current_app.extensions["db_engine"]


@contextmanager
def transaction() -> Iterator[so.Session]:
    """Run a block in one transaction: commit on success, roll back on any error."""
    session = get_session()
    lock = current_app.extensions.get("db_write_lock")
    # After the SQLite busy timeout, fall through to SQLite's own locking (and its error).
    held = lock is not None and lock.acquire(timeout=SQLITE_LOCK_TIMEOUT_S)
    with _release_after(lock) if held else nullcontext():
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def _release_after(lock) -> Iterator[None]:
    try:
        yield
    finally:
        lock.release()
