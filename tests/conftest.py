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


@pytest.fixture(params=DB_KINDS)
def database_url(request, tmp_path, postgres_url):
    """The URL of an empty database of each configured kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
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


@pytest.fixture
def app(app_config):
    """A fresh app with all tables created, dropped afterwards."""
    app = create_app(app_config)
    engine = app.extensions["db_engine"]
    Base.metadata.create_all(engine)
    yield app
    app.extensions["db_session"].remove()
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
