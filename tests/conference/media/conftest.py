"""Fixtures for media-plane tests: the real app served by gevent in a subprocess, and callers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid

import pytest
import redis
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "test-secret"
TEST_ACCOUNT_SID = "AC" + "0" * 31 + "1"
TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def media_test_config(db_url: str, **overrides) -> dict:
    """Config of the app under test (mirrors tests/conftest.py's make_test_config)."""
    config = {
        "TESTING": True, "DATABASE_URL": db_url, "PUBLIC_URL": None,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_API_URL": "http://127.0.0.1:9", "TWILIO_TWIML_APP_SID": "AP" + "0" * 31 + "1",
        "TWILIO_CALLER_ID": "+15550000000", "AI_BACKEND": "echo", "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
    }
    config.update(overrides)
    return config


class Server:
    """A running app-under-test process."""

    def __init__(self, proc: subprocess.Popen, port: int, db_url: str, log_path: str) -> None:
        self.proc, self.port, self.db_url, self.log_path = proc, port, db_url, log_path
        self.engine = sa.create_engine(db_url)

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def metric(self, name: str, **labels: str) -> float:
        """A sample from /metrics (0 when absent)."""
        with urllib.request.urlopen(self.http("/metrics"), timeout=5) as resp:
            text = resp.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return sample.value
        return 0.0

    def events(self, event: str) -> list[dict]:
        """Payloads of ConferenceEvent(source="media") rows named `event`, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT payload FROM conference_event WHERE source='media' AND event=:e "
                "ORDER BY id"), {"e": event}).all()
        return [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]

    def streams(self) -> dict[str, str]:
        """stream_sid -> status of every Stream row."""
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT stream_sid, status FROM stream")).all())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def seed_room(self, recording: bool = False) -> None:
        """Tenant 1 (`acme`) with conference 1 (`room`) in progress."""
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO tenant (id, name, recording_enabled, max_ai_sessions, created_at)"
                " VALUES (1, 'acme', :rec, 5, CURRENT_TIMESTAMP)"), {"rec": int(recording)})
            conn.execute(sa.text("INSERT INTO conference (id, tenant_id, name, status, created_at)"
                                 " VALUES (1, 1, 'room', 'in-progress', CURRENT_TIMESTAMP)"))

    def rows(self, sql: str) -> list:
        """The rows of one read-only query."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()


@pytest.fixture
def media_server(tmp_path):
    """Factory: start the app under gevent with config overrides; all stopped at teardown."""
    started: list[Server] = []

    def start(db_name: str = "media.sqlite", **overrides) -> Server:
        db_url = f"sqlite:///{tmp_path / db_name}"
        config = media_test_config(db_url, RECORDINGS_DIR=str(tmp_path / "recordings"),
                                   **overrides)
        log_path = str(tmp_path / f"server-{len(started)}.log")
        env = dict(os.environ, FORKLINE_TEST_CONFIG=json.dumps(config))
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen([sys.executable, os.path.join(HERE, "media_server.py")],
                                    stdout=subprocess.PIPE, stderr=log_file, env=env)
        line = proc.stdout.readline()
        if not line:
            with open(log_path) as failed:
                raise RuntimeError(failed.read())
        server = Server(proc, int(line), db_url, log_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.proc.terminate()
        try:
            server.proc.wait(5)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
        server.proc.stdout.close()
        server.engine.dispose()


@pytest.fixture
def redis_client():
    """A client of the real Redis; CI has one: an unreachable server fails the test, never skips."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def tap_key():
    """A leg's tap key nobody else uses: the Redis is shared."""
    return "CA" + uuid.uuid4().hex
