"""Sans-I/O Media Streams session: exact Twilio message shapes and app-message handling."""
from __future__ import annotations

import base64
import json

import pytest
from sim_stream_client import documented_start

from twilio_sim.audio import SILENCE
from twilio_sim.media_protocol import Dropped, StreamSession, normalize_tracks, signed_upgrade

AC, CA, MZ = "AC" + "a" * 32, "CA" + "b" * 32, "MZ" + "c" * 32


def session(**kw) -> StreamSession:
    kw.setdefault("tracks", "inbound_track")
    return StreamSession(AC, CA, MZ, **kw)


def app(event: str, sid: str = MZ, **body) -> str:
    return json.dumps({"event": event, "streamSid": sid, **body})


def test_connected_and_start_are_exactly_as_documented():
    s = session(tracks="both_tracks", custom_parameters={"role": "customer"})
    assert s.connected() == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert s.start() == documented_start(AC, CA, MZ, ["inbound", "outbound"], {"role": "customer"})


def test_media_numbering_uses_strings_per_socket_sequence_and_per_track_chunks():
    s = session(tracks="both_tracks")
    s.start()
    msgs = [s.media(track, b"\x01" * 160, tick) for tick in range(2)
            for track in ("inbound", "outbound")]
    assert [m["sequenceNumber"] for m in msgs] == ["2", "3", "4", "5"]
    assert [(m["media"]["track"], m["media"]["chunk"], m["media"]["timestamp"]) for m in msgs] == [
        ("inbound", "1", "0"), ("outbound", "1", "0"), ("inbound", "2", "20"),
        ("outbound", "2", "20")]
    assert base64.b64decode(msgs[0]["media"]["payload"]) == b"\x01" * 160
    assert msgs[0]["streamSid"] == MZ and set(msgs[0]) == {"event", "sequenceNumber", "media",
                                                           "streamSid"}


def test_stop_and_dtmf_shapes():
    s = session(bidirectional=True)
    assert s.dtmf("5") == {"event": "dtmf", "streamSid": MZ, "sequenceNumber": "1",
                           "dtmf": {"track": "inbound_track", "digit": "5"}}
    assert s.stop() == {"event": "stop", "sequenceNumber": "2", "streamSid": MZ,
                        "stop": {"accountSid": AC, "callSid": CA}}


def test_dtmf_is_refused_on_unidirectional_streams():
    with pytest.raises(ValueError):
        session().dtmf("1")


@pytest.mark.parametrize(("given", "want"), [
    ("inbound_track", ["inbound"]), ("outbound_track", ["outbound"]),
    ("both_tracks", ["inbound", "outbound"]), (["outbound", "inbound"], ["inbound", "outbound"])])
def test_track_names(given, want):
    assert normalize_tracks(given) == want


def test_bidirectional_stream_is_inbound_only():
    with pytest.raises(ValueError):
        session(tracks="both_tracks", bidirectional=True)
    with pytest.raises(ValueError):
        normalize_tracks("sideways")


def test_app_media_and_marks_follow_playout_rules():
    s = session(bidirectional=True)
    s.start()
    assert s.receive(app("mark", mark={"name": "early"}))[0]["mark"] == {"name": "early"}
    payload = base64.b64encode(b"\x10" * 200).decode()
    assert s.receive(app("media", media={"payload": payload})) == []
    assert s.receive(app("mark", mark={"name": "m1"})) == []
    frame, echoes = s.playout_tick()
    assert frame == b"\x10" * 160 and echoes == []
    frame, echoes = s.playout_tick()
    assert frame == b"\x10" * 40 + SILENCE[40:] and echoes == []  # m1's last frame plays
    frame, echoes = s.playout_tick()
    assert frame == SILENCE
    assert echoes == [{"event": "mark", "sequenceNumber": "3", "streamSid": MZ,
                       "mark": {"name": "m1"}}]


def test_clear_echoes_every_pending_mark():
    s = session(bidirectional=True)
    payload = base64.b64encode(b"\x10" * 1600).decode()
    for name in ("a", "b"):
        s.receive(app("media", media={"payload": payload}))
        s.receive(app("mark", mark={"name": name}))
    echoes = s.receive(app("clear"))
    assert [e["mark"]["name"] for e in echoes] == ["a", "b"]
    assert s.playout_tick() == (SILENCE, [])


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    (app("media", sid="MZ" + "0" * 32, media={"payload": "AAAA"}), "streamSid"),
    (json.dumps({"event": "media", "media": {"payload": "AAAA"}}), "streamSid"),
    (app("media", media={"payload": "***"}), "bad base64"),
    (app("media", media={}), "without a payload"),
    (app("media", media="x"), "without a payload"),
    (app("mark", mark={"nam": "x"}), "mark without a name"),
    (app("dance"), "unknown event"),
])
def test_malformed_app_messages_are_dropped(text, reason):
    s = session(bidirectional=True)
    result = s.receive(text)
    assert isinstance(result, Dropped) and reason in result.reason
    assert s.dropped == 1 and s.playout.buffered_bytes == 0


def test_unidirectional_stream_ignores_app_messages():
    result = session().receive(app("clear"))
    assert isinstance(result, Dropped)


def test_signed_upgrade_signs_url_without_query_and_passes_query_as_params():
    from twilio.request_validator import RequestValidator

    url, sig = signed_upgrade("wss://example.com/media?a=1&b=two", "tok")
    assert url == "wss://example.com/media"
    assert RequestValidator("tok").validate(url, {"a": "1", "b": "two"}, sig)
    assert not RequestValidator("other").validate(url, {"a": "1", "b": "two"}, sig)


def test_mark_waits_measure_time_from_app_mark_to_echo():
    s = session(bidirectional=True)
    s.receive(app("mark", mark={"name": "now"}), now=1.0)
    s.receive(app("media", media={"payload": base64.b64encode(b"\x10" * 320).decode()}), now=2.0)
    s.receive(app("mark", mark={"name": "later"}), now=2.0)
    s.receive(app("media", media={"payload": base64.b64encode(b"\x10" * 800).decode()}), now=2.0)
    s.receive(app("mark", mark={"name": "cleared"}), now=2.01)
    s.playout_tick(now=2.02)
    s.playout_tick(now=2.04)  # "later"'s last frame starts playing...
    s.playout_tick(now=2.06)  # ...and has played: echoed now
    s.receive(app("clear"), now=2.1)
    assert list(s.mark_waits) == pytest.approx([0.0, 0.06, 0.09])
    assert s.first_media_at == 2.0 and s.clears == 1
