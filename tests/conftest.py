"""Shared fixtures in the Flask-tutorial style: app, client, runner, and a database per test.

Database tests run on SQLite and, when DATABASE_URL names a PostgreSQL server (CI does),
on PostgreSQL too, each in a private database so parallel runs never collide.
"""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from twilio_fake import FakeTwilio

from app import create_app
from conference.twilio.gateway import TwilioGateway
from models import Base

TEST_ACCOUNT_SID = "AC" + "0" * 31 + "1"
TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
TEST_APP_SID = "AP" + "0" * 31 + "1"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return None


DB_KINDS = ["sqlite"] + (["postgresql"] if _postgres_admin_url() else [])


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL database for this test session (or None without a server)."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        yield None
        return
    name = f"forkline_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Session databases whose tables the `app` fixture keeps between tests (emptied, not dropped).
_TABLES_KEPT: set[str] = set()


def _drop_kept_tables(url: str) -> None:
    """Drop the tables `app` kept in `url`, so the next user finds it empty."""
    if url in _TABLES_KEPT:
        engine = sa.create_engine(url)
        Base.metadata.drop_all(engine)
        engine.dispose()
        _TABLES_KEPT.discard(url)


@pytest.fixture(params=DB_KINDS)
def database_url(request, tmp_path, postgres_url):
    """The URL of an empty database of each configured kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    if "app" not in request.fixturenames:  # `app` empties the kept tables itself
        _drop_kept_tables(postgres_url)
    return postgres_url


def make_test_config(database_url: str, **overrides) -> dict:
    """The config every test app starts from."""
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "PUBLIC_URL": "https://forkline.test",
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_API_URL": "http://127.0.0.1:9",  # tests that call Twilio point this at a fake
        "TWILIO_TWIML_APP_SID": TEST_APP_SID,
        "TWILIO_CALLER_ID": "+15550000000",
        "AI_BACKEND": "echo",
        "SECRET_KEY": "test-secret",
        "LOG_LEVEL": "WARNING",
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_config(database_url, tmp_path):
    """Config for the `app` fixture; tests may override keys before `app` is built."""
    return make_test_config(database_url, RECORDINGS_DIR=str(tmp_path / "recordings"))


def _empty_tables(engine: sa.Engine) -> None:
    """Delete every row and restart every id sequence: the state create_all leaves."""
    with engine.begin() as conn:
        sequences = conn.execute(sa.text("SELECT sequencename FROM pg_sequences"
                                         " WHERE schemaname = current_schema()")).scalars()
        conn.exec_driver_sql(";".join(
            [f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
            + [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]))


@pytest.fixture
def app(app_config, postgres_url):
    """A fresh app with all tables created and empty, dropped (or emptied) afterwards.

    The session's PostgreSQL database keeps its tables between tests and is emptied instead:
    emptying takes ~4 ms, create_all plus drop_all ~70 ms, on every PostgreSQL app test.
    """
    app = create_app(app_config)
    engine = app.extensions["db_engine"]
    kept = postgres_url is not None and app_config["DATABASE_URL"] == postgres_url
    if not kept:
        Base.metadata.create_all(engine)
    elif postgres_url not in _TABLES_KEPT:  # first use, or the last emptying failed
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
    yield app
    app.extensions["db_session"].remove()
    if kept:
        _TABLES_KEPT.discard(postgres_url)
        _empty_tables(engine)
        _TABLES_KEPT.add(postgres_url)
    else:
        Base.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for the app's click commands."""
    return app.test_cli_runner()


@pytest.fixture
def fake_twilio(app_config):
    """A running fake Twilio; any request that violates the OpenAPI spec fails the test."""
    fake = FakeTwilio(app_config["TWILIO_ACCOUNT_SID"], app_config["TWILIO_AUTH_TOKEN"]).start()
    yield fake
    fake.stop()
    assert fake.violations == []


@pytest.fixture
def twilio_app(app, fake_twilio):
    """The app with its gateway (the real SDK) pointed at the fake."""
    app.extensions["twilio_gateway"] = TwilioGateway(
        app.config["TWILIO_ACCOUNT_SID"], app.config["TWILIO_AUTH_TOKEN"], fake_twilio.url)
    return app
