"""Probes: /healthz while the process is up, /readyz only when the database answers."""
from __future__ import annotations

from app import create_app


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_when_database_answers(client):
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json["database"] == "ok"


def test_readyz_is_503_without_database(app_config):
    down = create_app({**app_config,
                       "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"})
    try:
        client = down.test_client()
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json["database"] == "unreachable"
    finally:
        down.extensions["db_engine"].dispose()
