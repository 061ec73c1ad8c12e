"""The tenant's AI cap holds at the socket, not only at the admin API."""
from __future__ import annotations

import random
import time

import pytest

from conference.media.ai_cap import LocalAiGate, RedisAiGate
from conference.twilio.security import make_stream_token
from twilio_sim.testing import wait_for

from .attack_server import close_code, http_get, start_message, upgrade

pytestmark = pytest.mark.slow
SECRET = "attack-secret"


def ai_params(call_sid: str, cap: int, tenant: int = 7) -> dict:
    token = make_stream_token(SECRET, {"conference": "capped", "tenant": tenant, "kind": "ai",
                                       "label": "ai", "call": call_sid, "cap": cap})
    return {"conference": "capped", "tenant": str(tenant), "agent": "default", "mode": "speak",
            "coach": "", "token": token}


def open_ai_streams(forkline) -> int:
    """AI sockets the worker has accepted (its streams-open gauge)."""
    _, body = http_get(forkline.base + "/metrics")
    line = next((x for x in body.decode().splitlines()
                 if x.startswith('forkline_media_streams_open{kind="ai"}')), "_ 0")
    return int(float(line.split()[-1]))


def test_an_ai_socket_over_the_tenant_cap_is_closed_1008(forkline):
    # Fresh tenant and calls: with REDIS_URL the live set outlives this server.
    tenant = random.randrange(10**6, 10**7)
    calls = [f"CA{random.getrandbits(128):032x}" for _ in range(3)]
    sockets = []
    try:
        for n, call in enumerate(calls[:2], start=1):
            s = upgrade(forkline, "/twilio/ai-stream")
            sockets.append(s)
            s.sendall(start_message(call, ai_params(call, 2, tenant)))
            # Each start is taken before the next: which socket is the third must not race.
            assert wait_for(lambda n=n: open_ai_streams(forkline) >= n, timeout_s=20)
        over = upgrade(forkline, "/twilio/ai-stream")
        sockets.append(over)
        over.sendall(start_message(calls[2], ai_params(calls[2], 2, tenant)))
        assert close_code(over) == 1008
        assert forkline.healthz() == 200
        status, body = http_get(forkline.base + "/metrics")
        assert status == 200 and b"forkline_media_ai_cap_refused_total 1.0" in body
    finally:
        for s in sockets:
            s.close()


def test_a_reconnect_of_a_live_call_counts_once():
    gate = LocalAiGate()
    assert gate.acquire("1", "CA1", 1) and gate.acquire("1", "CA1", 1)  # the call reconnects
    assert not gate.acquire("1", "CA2", 1)
    gate.release("1", "CA1")  # the older socket ends; the new one is still live
    assert not gate.acquire("1", "CA2", 1)
    gate.release("1", "CA1")
    assert gate.acquire("1", "CA2", 1)


@pytest.fixture
def redis_client():
    """A real Redis (127.0.0.1:6379)."""
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=2)
    client.ping()
    yield client
    client.close()


def _fresh() -> tuple[str, str, str]:
    """A tenant and two callSids nobody else uses (the live sets outlive a test run)."""
    return (str(random.randrange(10**8, 10**9)), f"CA{random.getrandbits(128):032x}",
            f"CA{random.getrandbits(128):032x}")


def test_a_crashed_workers_slot_ages_out_after_one_lease(redis_client):
    tenant, live, other = _fresh()
    crashed = RedisAiGate(redis_client, lease_s=0.5)  # never refreshed: its worker died
    assert crashed.acquire(tenant, live, 1)
    survivor = RedisAiGate(redis_client, lease_s=0.5)
    assert not survivor.acquire(tenant, other, 1)
    # The slot frees itself once its lease passes; polling the gate is the condition.
    assert wait_for(lambda: survivor.acquire(tenant, other, 1), timeout_s=10)
    survivor.release(tenant, other)


def test_a_refreshed_call_keeps_its_slot_past_the_lease(redis_client):
    import gevent

    tenant, live, other = _fresh()
    worker = RedisAiGate(redis_client, lease_s=0.6)
    assert worker.acquire(tenant, live, 1)
    first_expiry = redis_client.zscore(RedisAiGate.key(tenant), live)
    worker.start_refresher()
    try:
        # Wait (yielding to the refresher greenlet) until the first lease is over.
        assert wait_for(lambda: gevent.sleep(0.05) or time.time() > first_expiry + 0.3,
                        timeout_s=10)
        assert redis_client.zscore(RedisAiGate.key(tenant), live) > first_expiry
        assert not RedisAiGate(redis_client, lease_s=0.6).acquire(tenant, other, 1)
    finally:
        worker.refresher.kill()
        worker.release(tenant, live)
    assert redis_client.zscore(RedisAiGate.key(tenant), live) is None


def test_a_reconnect_keeps_the_redis_slot_until_its_last_socket_ends(redis_client):
    tenant, live, other = _fresh()
    gate = RedisAiGate(redis_client, lease_s=60)
    assert gate.acquire(tenant, live, 1) and gate.acquire(tenant, live, 1)  # reconnect overlap
    assert gate.release(tenant, live) is False  # the old socket ends: the call still counts
    assert not gate.acquire(tenant, other, 1)
    assert gate.release(tenant, live) is True
    assert gate.acquire(tenant, other, 1)
    gate.release(tenant, other)
