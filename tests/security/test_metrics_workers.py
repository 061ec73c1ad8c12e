"""One /metrics scrape sums every gunicorn worker (prometheus-client multiprocess mode)."""
from __future__ import annotations

import os
import signal

import pytest
from support.processes import accepting_pid, children

from twilio_sim.testing import wait_for

from .attack_server import close_code, http_get, start_forkline, upgrade

# A gunicorn boot counts toward the first test; on a loaded machine it took 70-90 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
METRICS_TOKEN = "metrics-bearer-two-workers"


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """The Procfile's web line at WEB_CONCURRENCY=2, start-less sockets closed after 1 s."""
    server = start_forkline(tmp_path_factory.mktemp("workers"), WEB_CONCURRENCY="2",
                            START_TIMEOUT_S="1", METRICS_TOKEN=METRICS_TOKEN)
    yield server
    os.killpg(server.proc.pid, signal.SIGTERM)
    server.proc.wait(timeout=30)


def scrape(server) -> dict[str, float]:
    status, body = http_get(server.base + "/metrics",
                            {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in body.decode().splitlines() if line and not line.startswith("#")}


def test_one_scrape_sums_the_counters_of_both_workers(two_workers):
    assert wait_for(lambda: scrape(two_workers).get("forkline_workers_live") == 2, timeout_s=30)
    # The shell, gunicorn's master and its workers: whoever holds a socket is a worker.
    tree = children(two_workers.proc.pid)
    workers = tree + [w for p in tree for w in children(p)]
    # Start-less sockets until both workers hold some: each counts its own timeouts.
    per_worker: dict[int, int] = {}
    sockets = []
    while len(per_worker) < 2 and len(sockets) < 200:
        s = upgrade(two_workers)
        sockets.append(s)
        pid = accepting_pid(s, workers)
        if pid is not None:
            per_worker[pid] = per_worker.get(pid, 0) + 1
    assert len(per_worker) == 2, per_worker
    assert [close_code(s) for s in sockets] == [1008] * len(sockets)
    for s in sockets:
        s.close()
    # The close frame can beat the worker's gauge update: wait for the sum to settle.
    wait_for(lambda: scrape(two_workers)["forkline_media_sockets_awaiting_start"] == 0,
             timeout_s=20)
    # Whichever worker answers, the scrape shows both workers' counts summed.
    for _ in range(4):
        total = scrape(two_workers)
        assert total["forkline_media_start_timeouts_total"] == len(sockets)
        assert total["forkline_worker_connections_limit"] == 1000


def test_metrics_keep_their_bearer_token_in_multiprocess_mode(two_workers):
    assert http_get(two_workers.base + "/metrics")[0] == 401
