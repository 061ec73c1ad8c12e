"""Media Streams client against a real local WebSocket server."""
from __future__ import annotations

import base64
import queue

import pytest
from sim_stream_client import AC, CA, TOKEN, StatusLog, b64, documented_start, make_client, media
from sim_ws_app_server import AppServer
from twilio.request_validator import RequestValidator

from twilio_sim.audio import SILENCE, tone_ulaw
from twilio_sim.clock import VirtualClock
from twilio_sim.media_client import StreamConnectError


def test_upgrade_is_signed_and_start_is_exact(app_server):
    status = StatusLog()
    client = make_client(app_server.url("/twilio/fork?tenant=t1"), tracks="both_tracks",
                         custom_parameters={"role": "customer"}, on_status=status, name="fork-a")
    client.connect()
    path, headers = app_server.upgrades.get(timeout=5)
    assert path == "/twilio/fork?tenant=t1"
    signed = f"ws://127.0.0.1:{app_server.port}/twilio/fork"
    assert RequestValidator(TOKEN).validate(signed, {"tenant": "t1"},
                                            headers["X-Twilio-Signature"])
    assert app_server.next_message() == {"event": "connected", "protocol": "Call",
                                         "version": "1.0.0"}
    sid = client.stream_sid
    assert app_server.next_message() == documented_start(
        AC, CA, sid, ["inbound", "outbound"], {"role": "customer"})
    assert status.next() == (sid, "stream-started", None)
    client.stop()
    assert status.next() == (sid, "stream-stopped", None)


def test_media_frames_then_stop_and_close(app_server):
    client = make_client(app_server.url(), tracks="both_tracks")
    client.connect()
    voice, heard = tone_ulaw(1000, 20), tone_ulaw(500, 20)
    for _ in range(3):
        client.send_tick(voice, heard)
    client.send_tick(None, None)
    client.stop()
    app_server.next_event("start")
    media = [app_server.next_message() for _ in range(8)]
    assert [m["sequenceNumber"] for m in media] == [str(n) for n in range(2, 10)]
    assert [(m["media"]["track"], m["media"]["chunk"], m["media"]["timestamp"])
            for m in media[:4]] == [("inbound", "1", "0"), ("outbound", "1", "0"),
                                    ("inbound", "2", "20"), ("outbound", "2", "20")]
    assert base64.b64decode(media[0]["media"]["payload"]) == voice
    assert base64.b64decode(media[1]["media"]["payload"]) == heard
    assert base64.b64decode(media[7]["media"]["payload"]) == SILENCE
    assert app_server.next_message() == {"event": "stop", "sequenceNumber": "10",
                                         "streamSid": client.stream_sid,
                                         "stop": {"accountSid": AC, "callSid": CA}}
    assert app_server.closes.get(timeout=5) == (0, 1000)
    assert client.closed.is_set() and not client.closed_by_app


def test_bidirectional_playout_marks_and_clear(app_server):
    client = make_client(app_server.url(), bidirectional=True)
    client.connect()
    sid = app_server.next_event("start")["streamSid"]
    app_server.send(0, {"event": "mark", "streamSid": sid, "mark": {"name": "empty"}})
    assert app_server.next_event("mark")["mark"] == {"name": "empty"}  # at once: nothing queued
    app_server.send(0, media(sid, b"\x11" * 320))
    app_server.send(0, {"event": "mark", "streamSid": sid, "mark": {"name": "utt-1"}})
    app_server.send(0, media(sid, b"\x22" * 800))
    app_server.send(0, {"event": "mark", "streamSid": sid, "mark": {"name": "utt-2"}})
    app_server.send(0, {"event": "mark", "streamSid": sid, "mark": {"name": "utt-3"}})
    # Wait until the client has queued all of it (polling a condition, not sleeping blindly).
    _wait_for(lambda: client.session.playout.pending_marks == ["utt-1", "utt-2", "utt-3"])
    assert client.playout_frame() == b"\x11" * 160
    assert client.playout_frame() == b"\x11" * 160  # utt-1's last frame starts playing...
    assert client.playout_frame() == b"\x22" * 160  # ...and has played when the next starts
    assert app_server.next_event("mark")["mark"] == {"name": "utt-1"}
    app_server.send(0, {"event": "clear", "streamSid": sid})
    assert app_server.next_event("mark")["mark"] == {"name": "utt-2"}
    assert app_server.next_event("mark")["mark"] == {"name": "utt-3"}
    assert client.playout_frame() == SILENCE
    client.send_dtmf("7")
    dtmf = app_server.next_event("dtmf")
    assert dtmf["dtmf"] == {"track": "inbound_track", "digit": "7"} and dtmf["streamSid"] == sid
    client.stop()


def test_malformed_app_messages_are_dropped_and_the_stream_stays_up(app_server, caplog):
    client = make_client(app_server.url(), bidirectional=True)
    client.connect()
    sid = app_server.next_event("start")["streamSid"]
    app_server.send(0, "this is not json")
    app_server.send(0, {"event": "media", "streamSid": "MZwrong", "media": {"payload": b64(b"1")}})
    app_server.send(0, {"event": "media", "streamSid": sid, "media": {"payload": "%%%"}})
    app_server.send(0, {"event": "mark", "streamSid": sid, "mark": {"name": "alive"}})
    assert app_server.next_event("mark")["mark"] == {"name": "alive"}
    assert client.session.dropped == 3 and client.session.playout.buffered_bytes == 0
    warnings = [r for r in caplog.records if r.name == "twilio_sim.media"]
    assert len(warnings) == 1  # sampled: 1 in 200
    assert "not JSON" in warnings[0].getMessage()
    client.stop()


def test_app_closing_the_socket_is_reported(app_server):
    status = StatusLog()
    client = make_client(app_server.url(), bidirectional=True, on_status=status)
    client.connect()
    app_server.next_event("start")
    assert status.next()[1] == "stream-started"
    app_server.sockets[0].close()
    assert status.next()[1] == "stream-stopped"
    assert client.closed.is_set() and client.closed_by_app
    client.send_tick(b"\x01" * 160)  # ignored, never raises
    assert client.playout_frame() == SILENCE


def test_drop_then_restart_gives_a_new_stream_on_the_same_call(app_server):
    status = StatusLog()
    client = make_client(app_server.url(), on_status=status)
    client.connect()
    first = app_server.next_event("start")["streamSid"]
    client.send_tick(b"\x01" * 160)
    app_server.next_event("media")
    new_sid = client.restart()
    number, code = app_server.closes.get(timeout=5)
    assert number == 0 and code != 1000  # abnormal closure: no close frame, no stop
    assert [status.next()[1] for _ in range(3)] == ["stream-started", "stream-error",
                                                    "stream-started"]
    start = app_server.next_event("start")
    assert start["streamSid"] == new_sid != first
    assert start["start"]["callSid"] == CA and start["sequenceNumber"] == "1"
    client.send_tick(b"\x02" * 160)
    media = app_server.next_event("media")
    assert media["media"]["chunk"] == "1" and media["sequenceNumber"] == "2"
    client.stop()
    assert all(m["event"] != "stop" or m["streamSid"] == new_sid
               for m in _drain(app_server))


class RecordingClock(VirtualClock):
    """Time moves only when the test says so; the sender's sleeps are recorded, not taken."""

    def __init__(self):
        super().__init__()
        self.sleeps: list[float] = []

    def sleep_until(self, t):
        self.sleeps.append(t)


def test_delay_and_jitter_hold_messages_but_keep_their_order(app_server):
    clock = RecordingClock()
    client = make_client(app_server.url(), clock=clock, seed=7)
    client.set_delay(100, jitter_ms=40)
    client.connect()
    for _ in range(20):
        client.send_tick(b"\x05" * 160)
        clock.advance(0.02)
    client.stop()
    msgs = _drain(app_server, until="stop")
    assert [m["event"] for m in msgs][:2] == ["connected", "start"]
    assert [int(m["sequenceNumber"]) for m in msgs[1:]] == list(range(1, 23))
    assert len(clock.sleeps) >= 21
    assert clock.sleeps == sorted(clock.sleeps)
    assert clock.sleeps[0] >= 0.1 and clock.sleeps[-1] <= 0.4 + 0.1 + 0.04 + 1e-9


def _drain(server, until: str | None = None) -> list[dict]:
    msgs = []
    while True:
        try:
            msg = server.next_message(timeout=5 if until else 0.5)
        except queue.Empty:
            return msgs
        msgs.append(msg)
        if until and msg["event"] == until:
            return msgs


def _wait_for(condition, timeout: float = 5.0) -> None:
    import threading

    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not met")


def test_frames_before_connect_are_skipped_so_start_is_first(app_server):
    client = make_client(app_server.url())
    client.send_tick(b"\x01" * 160)  # the conference ticks while the upgrade is in flight
    client.connect()
    client.send_tick(b"\x02" * 160)
    assert app_server.next_message()["event"] == "connected"
    assert app_server.next_message()["sequenceNumber"] == "1"
    media = app_server.next_message()
    assert media["sequenceNumber"] == "2" and media["media"]["timestamp"] == "0"
    assert base64.b64decode(media["media"]["payload"]) == b"\x02" * 160
    client.stop()


def test_stop_before_connect_finishes_cancels_the_stream(app_server):
    status = StatusLog()
    client = make_client(app_server.url(), on_status=status)
    client.stop()  # e.g. the call ended while the upgrade was still in flight
    client.connect()
    assert client.closed.is_set()
    assert app_server.closes.get(timeout=5)[0] == 0
    assert app_server.messages.empty() and status.events.empty()


def test_wss_upgrade_is_signed_with_the_wss_url(tmp_path):
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    server = AppServer(ssl_context=server_ctx)
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        client = make_client(server.url("/secure"), ssl_context=client_ctx)
        client.connect()
        _, headers = server.upgrades.get(timeout=5)
        assert RequestValidator(TOKEN).validate(f"wss://127.0.0.1:{server.port}/secure", {},
                                                headers["X-Twilio-Signature"])
        assert server.next_event("start")["streamSid"] == client.stream_sid
        client.stop()
        # A client that does not trust the certificate fails with Twilio's TLS error.
        with pytest.raises(StreamConnectError) as info:
            make_client(server.url("/secure")).connect()
        assert info.value.code == 31910
    finally:
        server.close()


def test_app_to_caller_delay_holds_audio_and_marks_until_they_reach_the_ear(app_server):
    # Real Twilio adds latency between the app's message and the caller's ear: audio (and the
    # mark after it) reach the playout buffer `to_caller` ms late, in order.
    clock = VirtualClock()
    client = make_client(app_server.url(), bidirectional=True, clock=clock)
    client.connect()
    sid = app_server.next_event("start")["streamSid"]
    client.set_playout_delay(100)
    app_server.send(0, media(sid, b"\x33" * 160))
    app_server.send(0, {"event": "mark", "streamSid": sid, "mark": {"name": "late"}})
    _wait_for(lambda: client.app_messages == 2)
    assert client.playout_frame() == SILENCE  # still on its way
    assert client.session.playout.buffered_bytes == 0
    clock.advance(0.1)
    assert client.playout_frame() == b"\x33" * 160
    assert client.playout_frame() == SILENCE
    assert app_server.next_event("mark")["mark"] == {"name": "late"}
    client.stop()


def test_playout_start_delay_plays_the_first_audio_late(app_server):
    client = make_client(app_server.url(), bidirectional=True)
    client.connect()
    sid = app_server.next_event("start")["streamSid"]
    client.set_playout_start_delay(40)
    app_server.send(0, media(sid, b"\x44" * 160))
    _wait_for(lambda: client.session.playout.buffered_bytes == 160)
    assert [client.playout_frame() for _ in range(3)] == [SILENCE, SILENCE, b"\x44" * 160]
    client.stop()
