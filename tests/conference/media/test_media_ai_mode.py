"""AI modes reach the live bridge: in listen the AI is not heard; speak brings it back."""
from __future__ import annotations

import os
import uuid

import orjson
import redis
from media_harness import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, Ticker, token

from agents.base import AudioOut, Transcript
from conference.media.bus import CHANNEL
from conference.media.facade import set_ai_mode
from conference.media.live_call import LiveCall
from conference.media.registry import get_plane
from twilio_sim.media_client import MediaStreamClient
from twilio_sim.testing import wait_for

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SILENCE = b"\xff" * 160


def tone(tick: int) -> bytes:
    return bytes([(tick * 7) % 200 + 20, 3]) * 80


def _ai_client(server, conference: str, mode: str) -> MediaStreamClient:
    call_sid = "CA" + uuid.uuid4().hex
    params = {"conference": conference, "tenant": "1", "agent": "default", "mode": mode,
              "coach": "", "token": token("ai", "ai", conference, call=call_sid)}
    return MediaStreamClient(server.ws("/twilio/ai-stream"), auth_token=TEST_AUTH_TOKEN,
                             account_sid=TEST_ACCOUNT_SID, call_sid=call_sid,
                             custom_parameters=params, bidirectional=True)


def test_a_stream_started_in_listen_mode_is_not_heard(media_server):
    server = media_server()
    client = _ai_client(server, "quiet-room", "listen")
    client.connect()
    ticker = Ticker()
    ticker.run(60, [(client, tone)])
    assert [f for _, f in ticker.played(client)] == [SILENCE] * 60
    client.stop()
    # It still heard every frame (the leg's counters are flushed when the stream ends).
    assert wait_for(lambda: server.metric("forkline_media_frames_in_total", kind="ai") == 60)
    assert server.alive()


def test_mode_changes_from_another_worker_silence_and_restore_the_ai(media_server):
    server = media_server(REDIS_URL=REDIS_URL)
    conference = "mode-" + uuid.uuid4().hex[:8]
    client = _ai_client(server, conference, "speak")
    client.connect()
    ticker = Ticker()
    ticker.run(30, [(client, tone)])
    assert any(f != SILENCE for _, f in ticker.played(client))  # echo plays in speak mode
    bus = redis.Redis.from_url(REDIS_URL)

    def announce(mode: str) -> None:  # what set_ai_mode publishes on another worker
        bus.publish(CHANNEL, orjson.dumps({"kind": "mode", "conf_key": f"1:{conference}",
                                           "mode": mode, "worker": "test-worker"}))

    def cut_by_mode() -> bool:
        announce("listen")  # again each poll: the listener may not have subscribed yet
        ticker.run(5, [(client, tone)])
        return server.metric("forkline_media_barge_ins_total", source="mode") >= 1

    assert wait_for(cut_by_mode, timeout_s=10)  # speaking when told: cleared at once
    mark = len(ticker.played(client))
    ticker.run(50, [(client, tone)])
    assert [f for _, f in ticker.played(client)[mark:]] == [SILENCE] * 50

    announce("speak")
    ticker.run(40, [(client, tone)])
    assert any(f != SILENCE for _, f in ticker.played(client)[-20:])
    client.stop()
    bus.close()
    assert server.alive()


def test_set_ai_mode_in_process_drops_audio_and_unspoken_lines(app):
    plane = get_plane(app)
    live = plane.calls["CA" + "6" * 32] = LiveCall(plane, "CA" + "6" * 32,
                                                   {"tenant": "1", "conference": "room"})
    live.start()  # the reader connects the (echo) session
    try:
        assert wait_for(lambda: live.ready) and live.mode == "speak"
        session = live.session
        live.drain(session, AudioOut("echo-1", b"\x01" * 320))
        assert live.tracker.is_speaking(0.0)
        changed = set_ai_mode(app, 1, "room", "listen")
        assert changed == 1 and live.mode == "listen"
        assert not live.tracker.is_speaking(0.0)  # cut at once
        assert session.interrupts == [(0, "echo-1")]  # the backend learns nothing was heard
        submitted = []
        live.recorder.submit = lambda *job: submitted.append(job)
        live.drain(session, AudioOut("echo-2", b"\x02" * 320))
        live.drain(session, Transcript("ai", "unheard", True, "echo-2"))
        assert not live.tracker.is_speaking(0.0) and submitted == []
        unchanged = set_ai_mode(app, 1, "room", "listen")
        back = set_ai_mode(app, 1, "room", "speak")
        assert (unchanged, back) == (0, 1)
        live.drain(session, AudioOut("echo-3", b"\x03" * 320))
        assert live.tracker.is_speaking(0.0)
    finally:
        plane.calls.pop("CA" + "6" * 32, None)
        live.shutdown()
        plane.sink.join()  # the barge-in record is written before the database goes away
