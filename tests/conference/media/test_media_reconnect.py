"""Reconnects: a restarted stream loses no inbound audio; duplicates are fenced; outages replay."""
from __future__ import annotations

import os
import uuid

import pytest
import redis
from media_harness import (
    SILENCE,
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    Ticker,
    ai_client,
    fork_client,
    voice,
)
from twilio_fake import FakeTwilio

from agents import speech
from twilio_sim.media_client import MediaStreamClient
from twilio_sim.testing import wait_for

pytestmark = pytest.mark.slow
CALL = "CA" + "d" * 32


def tone(tick: int) -> bytes:
    return bytes([tick % 250, 3 + (tick // 250)]) * 80


TONES = {tone(t): t for t in range(500)}


def heard(played) -> list[int]:
    return [TONES[frame] for _, frame in played if frame in TONES]


def silence(_tick: int) -> None:
    return None


def mirrored_inbound(redis_url: str, call: str) -> int:
    """How many inbound frames of `call` a worker's replay mirror has written to Redis."""
    meta = redis.Redis.from_url(redis_url).hget(f"forkline:replay:{call}", "in_next")
    return int(meta or 0)


@pytest.mark.parametrize("graceful", [True, False], ids=["stop-start", "socket-loss"])
def test_restart_mid_utterance_loses_no_inbound_audio(media_server, graceful):
    server = media_server()
    client = ai_client(server, CALL)
    client.connect()
    ticker = Ticker()
    ticker.run(60, [(client, tone)])
    first_sid = client.stream_sid
    client.restart(graceful=graceful)  # mid-utterance; Twilio comes back with a new streamSid
    assert client.stream_sid != first_sid
    ticker.run(60, [(client, tone)])
    # Silence until the last tone came back through the AI (a busy box only takes longer).
    silent = ticker.run_until(lambda: 119 in heard(ticker.played(client)), [(client, silence)])
    got = heard(ticker.played(client))
    client.stop()
    streams = wait_for(lambda: len(server.streams()) == 2
                       and "started" not in server.streams().values() and server.streams())
    assert streams[first_sid] == ("stopped" if graceful else "failed")  # marks answered: no drop
    assert streams[client.stream_sid] == "stopped"
    received = wait_for(lambda: server.metric("forkline_media_frames_in_total", kind="ai"))
    # Every frame that reached Forkline came back through the AI, in order. A socket loss
    # can swallow what Twilio had in flight; a stop/start loses nothing at all.
    assert received == 120 + silent if graceful else received >= 118 + silent
    unique = list(dict.fromkeys(got))
    assert unique == sorted(unique) and len(unique) == received - silent
    if graceful:
        assert unique == list(range(120))
    # Audio in Twilio's buffer at the restart was re-sent: repeats stay within the unacked tail.
    assert len(got) - len(unique) <= 10
    assert server.metric("forkline_media_replayed_frames_total", direction="outbound") >= 1


def test_backend_outage_replays_missed_inbound(media_server):
    server = media_server(AI_BACKEND="flaky", AI_FLAKY_FAILS=2)
    client = ai_client(server, CALL)
    client.connect()
    ticker = Ticker()
    ticker.run(100, [(client, tone)])
    # The apology (several seconds of local TTS) plays first, then the replayed echo.
    ticker.run_until(lambda: len(heard(ticker.played(client))) >= 100, [(client, silence)],
                     limit=400, every=10)
    got = heard(ticker.played(client))
    replayed = server.metric("forkline_media_replayed_frames_total", direction="inbound")
    assert replayed >= 10  # the frames heard while the backend was down (>= 0.75 s of backoff)
    assert got == list(range(100))  # nothing lost, nothing twice
    assert server.metric("forkline_media_backend_failures_total", code="connect") == 2
    if speech.available():  # the caller heard an apology (local TTS) before the echo
        first_tone = next(i for i, (_, f) in enumerate(ticker.played(client)) if f in TONES)
        assert any(f != SILENCE for _, f in ticker.played(client)[:first_tone])


def test_broken_backend_never_kills_the_call(media_server):
    server = media_server(AI_BACKEND="broken")
    client = ai_client(server, CALL)
    client.connect()
    ticker = Ticker()
    ticker.run(50, [(client, tone)])
    ticker.run_until(lambda: server.metric("forkline_media_backend_failures_total",
                                           code="send_audio") >= 1, [(client, tone)], every=10)
    assert not client.closed.is_set()
    client.stop()
    assert server.alive()


def test_duplicate_ai_socket_newer_wins(media_server):
    server = media_server()
    old, new = ai_client(server, CALL), ai_client(server, CALL)
    old.connect()
    ticker = Ticker()
    ticker.run(20, [(old, tone)])
    new.connect()
    assert old.closed.wait(5) and old.closed_by_app  # the older socket is fenced
    ticker.run(40, [(new, tone)])
    # The newer socket carries the call: what it sent comes back on it.
    ticker.run_until(lambda: 59 in heard(ticker.played(new)), [(new, silence)])
    got = heard(ticker.played(new))
    assert set(range(20, 60)) <= set(got)
    assert server.metric("forkline_media_duplicate_sockets_total") == 1


def test_duplicate_fork_socket_newer_wins(media_server):
    server = media_server()
    old, new = fork_client(server, CALL, "alice"), fork_client(server, CALL, "alice")
    old.connect()
    Ticker().run(5, [(old, tone)])
    new.connect()
    assert old.closed.wait(5) and old.closed_by_app
    Ticker().run(5, [(new, tone)])
    assert not new.closed.is_set()
    assert server.metric("forkline_media_duplicate_sockets_total") == 1


def test_loss_with_marks_outstanding_is_a_drop_and_no_calls_update(media_server):
    """A Calls update would eject the AI from its conference; the <Connect action> URL is the
    way back (twiml/connect#action), so the media plane only records the drop."""
    fake = FakeTwilio(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN).start()
    try:
        fake.add_call(CALL)
        server = media_server(AI_BACKEND="talker", TWILIO_API_URL=fake.url)
        client = ai_client(server, CALL)
        client.connect()
        # Twilio's playout is stalled: no mark is ever echoed.
        Ticker().run_until(lambda: client.session.playout.pending_marks, [(client, silence)],
                           play=False)
        # A fresh schedule: 5.3 s from the mark's arrival, however late the box ran until then.
        Ticker().run(265, [(client, silence)], play=False)
        client.drop()
        assert wait_for(lambda: "dropped" in server.streams().values())
        dropped = wait_for(lambda: server.events("stream-dropped"))
        assert dropped[0]["marks_outstanding"] >= 1
        assert server.metric("forkline_media_dropped_streams_total") == 1
        assert [r for r in fake.requests if r.operation_id == "UpdateCall"] == []
        assert fake.violations == []
    finally:
        fake.stop()


def test_loss_with_marks_answered_is_not_a_drop(media_server):
    server = media_server(AI_BACKEND="talker")
    client = ai_client(server, CALL)
    client.connect()
    ticker = Ticker()
    ticker.run(30, [(client, silence)])
    ticker.run_until(lambda: client.marks_echoed >= 1, [(client, silence)])
    client.drop()
    assert wait_for(lambda: "failed" in server.streams().values())
    assert server.metric("forkline_media_dropped_streams_total") == 0


def test_another_worker_resumes_the_call_from_redis(media_server):
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    call = "CA" + uuid.uuid4().hex
    worker_a = media_server(REDIS_URL=redis_url)
    worker_b = media_server(REDIS_URL=redis_url)
    client = ai_client(worker_a, call)
    client.connect()
    ticker = Ticker()
    ticker.run(40, [(client, tone)])
    client.stop()
    assert wait_for(lambda: "stopped" in worker_a.streams().values())
    assert wait_for(lambda: mirrored_inbound(redis_url, call) == 40)  # A's mirror is in Redis
    moved = ai_client(worker_b, call)  # Twilio reconnects, and lands on another worker
    moved.connect()
    ticker.run_until(lambda: set(range(40)) <= set(heard(ticker.played(moved))),
                     [(moved, silence)])
    replayed = worker_b.metric("forkline_media_replayed_frames_total", direction="inbound")
    assert replayed == 40  # the new session heard the last seconds of the call
    assert set(range(40)) <= set(heard(ticker.played(moved)))
    moved.stop()


def test_workers_share_barge_in_and_duplicate_fencing_through_redis(media_server):
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    room = "room-" + uuid.uuid4().hex[:8]
    worker_a = media_server(REDIS_URL=redis_url, AI_BACKEND="talker")
    worker_b = media_server(REDIS_URL=redis_url, AI_BACKEND="talker")
    ai = ai_client(worker_a, CALL, conference=room)
    alice = fork_client(worker_b, "CA" + "e" * 32, "alice", conference=room)
    ai.connect()
    alice.connect()
    ticker = Ticker()
    ticker.run(50, [(ai, silence), (alice, silence)])
    # The fork's VAD on worker B interrupts the AI on worker A.
    ticker.run(30, [(ai, silence), (alice, voice)])
    event = wait_for(lambda: worker_a.events("barge-in"))
    assert event and event[0]["source"] == "vad" and event[0]["speaker"] == "alice"
    # The clear's counter and the event's row are written by different greenlets.
    assert wait_for(lambda: worker_a.metric("forkline_media_clears_total")) == 1
    # A second socket for the AI call lands on worker B: worker A's socket is fenced.
    moved = ai_client(worker_b, CALL, conference=room)
    moved.connect()
    assert ai.closed.wait(5) and ai.closed_by_app
    assert wait_for(lambda: worker_a.metric("forkline_media_duplicate_sockets_total") == 1)
    moved.stop()
    alice.stop()


def test_reconnect_of_a_known_call_survives_token_expiry(media_server):
    server = media_server(STREAM_TOKEN_TTL_S=1)
    client = ai_client(server, CALL)
    client.connect()
    ticker = Ticker()
    ticker.run(10, [(client, tone)])
    ticker.run(110, [])  # 2.2 s: the token in the TwiML parameters has expired
    client.restart(graceful=True)  # same callSid, same (expired) token: a reconnect
    ticker.run(40, [(client, tone)])
    assert wait_for(lambda: server.streams().get(client.stream_sid))  # it was accepted
    assert not client.closed.is_set()
    expired = dict(client.session.custom_parameters)
    stranger = MediaStreamClient(  # an unknown call presenting the expired token
        server.ws("/twilio/ai-stream"), auth_token=TEST_AUTH_TOKEN, account_sid=TEST_ACCOUNT_SID,
        call_sid="CA" + "9" * 32, custom_parameters=expired, bidirectional=True)
    stranger.connect()
    assert stranger.closed.wait(5) and stranger.closed_by_app
    assert server.metric("forkline_media_malformed_total", reason="bad_token") == 1
    client.stop()
