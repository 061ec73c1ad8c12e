"""Sockets end to end: the real app on gevent, driven by the simulated Twilio media client."""
from __future__ import annotations

import wave

import pytest
from media_harness import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, Ticker, ai_client, fork_client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from agents.audio import ulaw_to_pcm16
from twilio_sim.media_client import MediaStreamClient, StreamConnectError
from twilio_sim.testing import wait_for

pytestmark = pytest.mark.slow
CALL = "CA" + "1" * 32


def tone(tick: int) -> bytes:
    """A frame whose bytes identify its tick (never 0xFF, which is silence)."""
    return bytes([tick % 250, (tick // 250) % 250]) * 80


def test_unsigned_upgrade_is_refused_with_403(media_server):
    server = media_server()
    for path in ("/twilio/ai-stream", "/twilio/fork"):
        with pytest.raises(InvalidStatus) as info:
            connect(server.ws(path), open_timeout=5)
        assert info.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as info:
            connect(server.ws(path), additional_headers={"X-Twilio-Signature": "bm9wZQ=="},
                    open_timeout=5)
        assert info.value.response.status_code == 403


def test_bad_token_closes_with_policy_violation(media_server):
    server = media_server()
    client = MediaStreamClient(server.ws("/twilio/ai-stream"), auth_token=TEST_AUTH_TOKEN,
                               account_sid=TEST_ACCOUNT_SID, call_sid=CALL,
                               custom_parameters={"token": "forged"}, bidirectional=True)
    client.connect()
    assert client.closed.wait(5)
    assert client.closed_by_app
    assert server.metric("forkline_media_malformed_total", reason="bad_token") == 1


def test_wrong_signature_key_is_a_connect_error(media_server):
    server = media_server()
    client = MediaStreamClient(server.ws("/twilio/fork"), auth_token="wrong-token",
                               account_sid=TEST_ACCOUNT_SID, call_sid=CALL)
    with pytest.raises(StreamConnectError) as info:
        client.connect()
    assert info.value.code == 31920


def test_echo_round_trip_with_marks(media_server):
    server = media_server()
    client = ai_client(server, CALL)
    client.connect()
    ticker = Ticker()
    ticker.run(100, [(client, tone)])
    ticker.run(30, [(client, lambda t: None)])
    played = [frame for _, frame in ticker.played(client) if frame != b"\xff" * 160]
    assert played == [tone(t) for t in range(len(played))]
    assert len(played) >= 90  # nearly all 100 frames came back within the 30 trailing ticks
    assert client.marks_echoed > 0
    client.send_dtmf("7")
    assert wait_for(lambda: server.events("dtmf")) == [{"digit": "7"}]
    client.stop()
    assert wait_for(lambda: "stopped" in server.streams().values())
    assert server.metric("forkline_media_frames_in_total", kind="ai") == 130
    assert server.alive()


def test_recording_opt_in_writes_a_wav_per_leg_and_the_mix(media_server, tmp_path):
    server = media_server()
    server.seed_room(recording=True)
    ai, alice = ai_client(server, CALL), fork_client(server, "CA" + "2" * 32, "alice")
    ai.connect()
    alice.connect()
    ticker = Ticker()
    legs = [(ai, tone), (alice, lambda t: bytes([t % 250, 9]) * 80)]
    folder = tmp_path / "recordings" / "t1-room"
    # Recording starts once the tenant's opt-in is read (off the audio path): tick until both
    # files are open (the limit is a timeout, not a speed claim), then 40 frames more.
    for _ in range(500):
        if (folder / "mix.wav").exists() and (folder / "alice.wav").exists():
            break
        ticker.run(1, legs)
    ticker.run(40, legs)
    last = ticker.tick - 1
    ai.stop()
    alice.stop()
    assert wait_for(lambda: sorted(server.streams().values()) == ["stopped", "stopped"])
    for name, expected in (("mix", tone), ("alice", legs[1][1])):
        with wave.open(str(folder / f"{name}.wav"), "rb") as wav:
            pcm = wav.readframes(wav.getnframes())
        assert len(pcm) >= 40 * 320  # everything since the files opened, the tail exactly
        assert pcm[-320:] == ulaw_to_pcm16(expected(last))
    with wave.open(str(folder / "ai.wav"), "rb") as wav:
        assert wav.getnframes() > 0


def test_no_recording_without_opt_in(media_server, tmp_path):
    server = media_server()
    ai = ai_client(server, CALL)
    ai.connect()
    Ticker().run(10, [(ai, tone)])
    ai.stop()
    assert wait_for(lambda: "stopped" in server.streams().values())
    assert not (tmp_path / "recordings").exists()
