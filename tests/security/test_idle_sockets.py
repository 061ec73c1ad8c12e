"""Sockets that upgrade and never start are closed; /metrics tells the operator (behind a token)."""
from __future__ import annotations

import os
import signal

import pytest

from .attack_server import close_code, http_get, start_forkline, upgrade

# A gunicorn boot counts toward the first test; on a loaded machine it took 70-90 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
METRICS_TOKEN = "metrics-bearer-for-tests"


@pytest.fixture(scope="module")
def quick_forkline(tmp_path_factory):
    """A Forkline closing start-less sockets after 1 s, with /metrics behind a token."""
    server = start_forkline(tmp_path_factory.mktemp("idle"), START_TIMEOUT_S="1",
                            METRICS_TOKEN=METRICS_TOKEN)
    yield server
    os.killpg(server.proc.pid, signal.SIGTERM)
    server.proc.wait(timeout=30)


def metric(server, name: str) -> float:
    status, body = http_get(server.base + "/metrics",
                            {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on /metrics")


@pytest.mark.parametrize("live_stream", ["quick_forkline"], indirect=True)
def test_sockets_without_start_are_closed_1008_and_counted(quick_forkline, live_stream):
    sockets = [upgrade(quick_forkline) for _ in range(40)]
    assert quick_forkline.healthz() == 200
    assert metric(quick_forkline, "forkline_media_sockets_awaiting_start") >= 1
    assert [close_code(s) for s in sockets] == [1008] * 40
    for s in sockets:
        s.close()
    assert metric(quick_forkline, "forkline_media_start_timeouts_total") >= 40
    assert metric(quick_forkline, "forkline_media_sockets_awaiting_start") == 0
    assert metric(quick_forkline, "forkline_worker_connections_limit") == 1000


def test_metrics_need_the_bearer_token(quick_forkline):
    assert http_get(quick_forkline.base + "/metrics")[0] == 401
    assert http_get(quick_forkline.base + "/metrics", {"Authorization": "Bearer nope"})[0] == 401
