"""Issue 12 item 6: kill -9 of one gunicorn worker (WEB_CONCURRENCY=2) in the middle of calls.

Calls on the other worker keep every frame; the killed worker's AI calls come back through
the reconnect path (Twilio requests the <Connect action> URL when the stream ends, and
Forkline answers a new <Connect><Stream> for the same call: here the simulated Twilio side
opens that new stream) and resume from the rings the dead worker mirrored to Redis.
"""
from __future__ import annotations

import os
import signal
import uuid

import pytest

from tests.support.hosts import (
    Ticker,
    ai_stream,
    client_port,
    released_cluster,
    seed_conference,
)
from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
MAX_CALLS = 16
SILENCE = b"\xff" * 160
TAIL = 25  # ticks at the end still in flight (playout lead, echo) when the run stops


def frame(call: int, tick: int) -> bytes:
    """A frame unique to (call, tick): what the echo AI plays back says what it heard."""
    return bytes([tick % 250, 20 + call * 4 + tick // 250]) * 80


def ticks_heard(call: int, played: list[bytes]) -> set[int]:
    sent = {frame(call, t): t for t in range(1000)}
    return {sent[f] for f in played if f in sent}


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    with released_cluster(tmp_path_factory.mktemp("kill"), "forkline_kill", REDIS_URL,
                          TRANSCRIPTS_ENABLED="0") as cluster:
        web = cluster.start("web", WEB_CONCURRENCY="2")
        wait_for(lambda: len(web.workers()) == 2, 30, 0.1, message="two workers")
        yield cluster, web


def test_kill_9_of_one_worker_spares_the_other_and_its_calls_reconnect(host):
    cluster, web = host
    tenant, _ = cluster.tenant("kill-" + uuid.uuid4().hex[:8])
    calls, owner = [], {}
    while len(calls) < MAX_CALLS and not (len(set(owner.values())) == 2 and len(calls) >= 4):
        sid = "CA" + uuid.uuid4().hex
        room = "kill-" + uuid.uuid4().hex[:8]
        seed_conference(cluster.engine, tenant, room, {"ai": sid})
        client = ai_stream(web, tenant, room, sid)
        client.connect()
        owner[len(calls)] = wait_for(lambda c=client: web.worker_of(client_port(c)), 10,
                                     message="the worker holding the socket")
        calls.append(client)
    assert len(set(owner.values())) == 2, "every socket landed on one worker"
    victim = owner[0]
    killed = [k for k in owner if owner[k] == victim]
    spared = [k for k in owner if owner[k] != victim]

    ticker = Ticker()
    legs = [(c, lambda t, k=k: frame(k, t)) for k, c in enumerate(calls)]
    ticker.run(60, legs)
    kill_tick = ticker.tick
    os.kill(victim, signal.SIGKILL)
    resumed_at: dict[int, int] = {}  # call -> index in its played frames at the reconnect
    while len(resumed_at) < len(killed) and ticker.tick < kill_tick + 250:
        for k in killed:
            if k not in resumed_at and calls[k].closed.is_set():
                resumed_at[k] = len(ticker.heard(calls[k]))
                calls[k].restart()  # Twilio's <Connect action> -> a new stream, same call
        ticker.run(1, [leg for k, leg in enumerate(legs) if k in spared or k in resumed_at])
    assert sorted(resumed_at) == killed
    back_tick = ticker.tick
    ticker.run(100, legs)
    end = ticker.tick - TAIL
    # A resumed echo first re-speaks the replayed context (seconds of it, in real time):
    # keep the calls' clocks running, in silence, until what was said after the reconnect
    # has come back too (or 12 s have passed).
    quiet = [(c, lambda t: SILENCE) for c in calls]
    for _ in range(600):
        if all(set(range(back_tick + 5, end)) <= ticks_heard(k, ticker.heard(calls[k]))
               for k in killed):
            break
        ticker.run(1, quiet)

    for k in spared:  # the other worker's calls lost nothing, before, during or after
        missing = set(range(10, end)) - ticks_heard(k, ticker.heard(calls[k]))
        assert not missing, f"call {k} on the surviving worker lost ticks {sorted(missing)}"
    for k in killed:
        after = ticks_heard(k, ticker.heard(calls[k])[resumed_at[k]:])
        assert set(range(back_tick + 5, end)) <= after  # audio flows again
        assert after & set(range(10, kill_tick - 10))  # the context from before the kill
    assert wait_for(lambda: len(web.workers()) == 2, 30, 0.1, message="gunicorn respawned")
    for client in calls:
        client.stop()
