"""Redis outages: calls keep their audio, signals never block, the replay mirror heals after.

Redis is reached through a TCP proxy (tests/support/tcpproxy.py) that the test cuts: the
machine's Redis keeps running for everyone else.
"""
from __future__ import annotations

import os
import uuid

import pytest
import redis
from media_harness import Ticker, ai_client, fork_client, voice

from conference.media import metrics
from conference.media.bus import SignalBus, publisher_client
from conference.media.replay import RedisReplayStore
from tests.support.tcpproxy import TcpProxy
from twilio_sim.testing import wait_for

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def tone(tick: int) -> bytes:
    return bytes([tick % 250, 7 + (tick // 250)]) * 80


TONES = {tone(t): t for t in range(1000)}


def heard(played) -> set[int]:
    return {TONES[frame] for _, frame in played if frame in TONES}


@pytest.fixture
def proxy():
    p = TcpProxy.in_front_of(REDIS_URL, 6379)
    yield p
    p.close()


@pytest.fixture
def direct():
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # an unreachable Redis fails the test, never skips it
    yield client
    client.close()


def frame(i: int) -> bytes:
    return bytes([i]) * 160


def test_the_replay_mirror_is_rewritten_whole_after_a_failed_flush(proxy, direct):
    call = "CA" + uuid.uuid4().hex
    client = redis.Redis.from_url(proxy.url_for(REDIS_URL), socket_timeout=2)
    store = RedisReplayStore(client, inbound_s=0.2, outbound_s=0.1)  # 10 frames in
    replay = store.get(call)
    for i in range(4):
        store.add_inbound(replay, frame(i))
    store.flush()
    proxy.cut()
    for i in range(4, 8):
        store.add_inbound(replay, frame(i))
    replay.fed = 8
    with pytest.raises(redis.RedisError):
        store.flush()  # these four frames never reached Redis
    proxy.restore()
    store.flush()
    resumed = RedisReplayStore(direct, inbound_s=0.2, outbound_s=0.1).get(call)
    assert resumed.inbound.since(0) == [frame(i) for i in range(8)]
    assert (resumed.inbound.next_index, resumed.fed) == (8, 8)
    store.forget(call)


def test_a_store_without_redis_starts_calls_empty_and_knows_only_its_own(proxy):
    client = redis.Redis.from_url(proxy.url_for(REDIS_URL), socket_timeout=2)
    store = RedisReplayStore(client)
    proxy.cut()
    replay = store.get("CA" + uuid.uuid4().hex)
    assert replay.inbound.since(0) == [] and not store.knows("CA" + "0" * 32)


class _Plane:
    """What SignalBus.apply needs of a media plane: no AI calls here."""

    def ai_calls_in(self, conf_key: str) -> list:
        return []


def test_signals_without_redis_are_counted_and_flow_again_after(proxy, direct):
    failed = metrics.value("forkline_bus_signals_total", outcome="failed")
    bus = SignalBus(_Plane(), direct,  # type: ignore[arg-type]
                    publisher_client(proxy.url_for(REDIS_URL)))
    listener = direct.pubsub(ignore_subscribe_messages=True)
    listener.subscribe("forkline:media:signals")
    proxy.cut()
    for _ in range(3):
        bus.publish("speech", conf_key="1:room", speaker="alice")  # returns: nothing raised
    wait_for(lambda: metrics.value("forkline_bus_signals_total", outcome="failed") == failed + 3,
             20, message="three signals failed against the outage")
    proxy.restore()
    bus.publish("speech", conf_key="1:room", speaker="bob")
    got = wait_for(lambda: listener.get_message(timeout=0.5), 20, message="a signal")
    assert b'"bob"' in got["data"]
    listener.close()


def test_calls_keep_their_audio_while_redis_is_gone(media_server, proxy):
    server = media_server(REDIS_URL=proxy.url_for(REDIS_URL))
    room = "room-" + uuid.uuid4().hex[:8]
    ai = ai_client(server, "CA" + uuid.uuid4().hex, conference=room)
    alice = fork_client(server, "CA" + uuid.uuid4().hex, "alice", conference=room)
    ai.connect()
    alice.connect()
    ticker = Ticker()
    ticker.run(30, [(ai, tone), (alice, lambda t: None)])
    proxy.cut()
    # The echo AI speaks back every tone sent while Redis is gone; the fork's speech still
    # barges in on its own worker; a new AI call starts without Redis.
    ticker.run(100, [(ai, tone), (alice, lambda t: voice(t) if 60 <= t < 75 else None)])
    late = ai_client(server, "CA" + uuid.uuid4().hex, conference=room + "-b")
    late.connect()
    ticker.run(60, [(ai, lambda t: None), (late, tone)])
    # Only what the barge-in (voice from tick 60) cut is missing: one stretch of the audio
    # queued when it came; what was said well before and after it came back.
    got = heard(ticker.played(ai))
    missing = sorted(set(range(30, 130)) - got)
    assert set(range(30, 40)) | set(range(85, 130)) <= got
    assert missing == list(range(missing[0], missing[-1] + 1)) if missing else True
    assert set(range(130, 150)) <= heard(ticker.played(late))
    assert wait_for(lambda: server.metric("forkline_media_barge_ins_total", source="vad") >= 1)
    assert server.metric("forkline_bus_signals_total", outcome="failed") >= 1
    proxy.restore()
    for client in (ai, alice, late):
        client.stop()
