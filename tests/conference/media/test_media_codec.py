"""Codec: every documented Twilio message parses; every malformed form is a value, never a raise."""
from __future__ import annotations

import base64

import orjson
import pytest

from conference.media import codec
from conference.media.codec import Connected, Dtmf, Malformed, Mark, Media, Start, Stop

SID = "MZ" + "a" * 32
CALL = "CA" + "b" * 32
ACCT = "AC" + "c" * 32
FRAME = bytes(range(160))

DOC_START = {
    "event": "start", "sequenceNumber": "1",
    "start": {"accountSid": ACCT, "streamSid": SID, "callSid": CALL,
              "tracks": ["inbound", "outbound"],
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
              "customParameters": {"role": "customer", "conf": "room-42"}},
    "streamSid": SID,
}


def media(seq="4", payload=None, **over):
    msg = {"event": "media", "sequenceNumber": seq, "streamSid": SID,
           "media": {"track": "inbound", "chunk": "2", "timestamp": "5",
                     "payload": base64.b64encode(FRAME).decode() if payload is None else payload}}
    msg.update(over)
    return orjson.dumps(msg)


def test_connected():
    msg = codec.parse('{"event":"connected","protocol":"Call","version":"1.0.0"}')
    assert msg == Connected("Call", "1.0.0")


def test_start_documented_shape():
    msg = codec.parse(orjson.dumps(DOC_START))
    assert isinstance(msg, Start)
    assert (msg.stream_sid, msg.call_sid, msg.account_sid) == (SID, CALL, ACCT)
    assert msg.tracks == ("inbound", "outbound")
    assert msg.params == {"role": "customer", "conf": "room-42"}
    assert msg.sequence == 1


def test_media_decodes_payload():
    msg = codec.parse(media())
    assert msg == Media(4, SID, "inbound", 2, 5, FRAME)


def test_dtmf_mark_stop():
    dtmf = {"event": "dtmf", "streamSid": SID, "sequenceNumber": "5",
            "dtmf": {"track": "inbound_track", "digit": "1"}}
    assert codec.parse(orjson.dumps(dtmf)) == Dtmf(5, SID, "1")
    mark = {"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": "utt-17"}}
    assert codec.parse(orjson.dumps(mark)) == Mark(4, SID, "utt-17")
    stop = {"event": "stop", "sequenceNumber": "5",
            "stop": {"accountSid": ACCT, "callSid": CALL}, "streamSid": SID}
    assert codec.parse(orjson.dumps(stop)) == Stop(5, SID, CALL)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", "not_json"),
        (b"\xff\xfe\x00", "not_json"),
        (b"[1,2,3]", "not_object"),
        (b'{"event":"dance"}', "unknown_event"),
        (b'{"event":["media"]}', "unknown_event"),
        (b'{"no_event":1}', "unknown_event"),
        (media(payload="!!!not-base64!!!"), "bad_base64"),
        (media(payload="AAA"), "bad_base64"),
        (media(payload=12), "bad_payload"),
        (media(seq=4), None),  # an int sequence is tolerated
        (media(seq="four"), "bad_sequenceNumber"),
        (media(streamSid=None), "missing_stream_sid"),
        (media(streamSid=17), "bad_stream_sid"),
        (media(streamSid="x" * 65), "bad_stream_sid"),
        (media(media="nope"), "bad_media"),
        (b'{"event":"mark","sequenceNumber":"3","streamSid":"MZ1","mark":{}}', "bad_name"),
        (b'{"event":"stop","sequenceNumber":"3","streamSid":"MZ1"}', "bad_stop"),
        (b'{"event":"connected"}', "bad_protocol"),
        (b'{"event":"dtmf","sequenceNumber":"3","streamSid":"MZ1","dtmf":{"digit":"xy"}}',
         "bad_digit"),
    ],
)
def test_malformed_forms_are_values(raw, reason):
    msg = codec.parse(raw)
    if reason is None:
        assert isinstance(msg, Media)
    else:
        assert isinstance(msg, Malformed) and msg.reason == reason


def test_oversized_is_refused_before_json():
    raw = media(payload=base64.b64encode(bytes(20000)).decode())
    assert codec.parse(raw) == Malformed("oversized", str(len(raw)))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m["start"].pop("streamSid"), "bad_streamSid"),
        (lambda m: m.update(streamSid="MZother"), "stream_sid_mismatch"),
        (lambda m: m["start"].update(tracks=["sideways"]), "bad_tracks"),
        (lambda m: m["start"]["mediaFormat"].update(sampleRate=16000), "unsupported_media_format"),
        (lambda m: m["start"].update(customParameters={"k": 3}), "bad_customParameters"),
        (lambda m: m["start"].update(callSid=None), "bad_callSid"),
    ],
)
def test_malformed_start(change, reason):
    msg = orjson.loads(orjson.dumps(DOC_START))
    change(msg)
    result = codec.parse(orjson.dumps(msg))
    assert isinstance(result, Malformed) and result.reason == reason


def test_encoders_round_trip_through_json():
    enc = codec.Encoder(SID)
    out = orjson.loads(enc.media(FRAME))
    assert out == {"event": "media", "streamSid": SID,
                   "media": {"payload": base64.b64encode(FRAME).decode()}}
    assert orjson.loads(enc.mark('g1-s"2')) == {
        "event": "mark", "streamSid": SID, "mark": {"name": 'g1-s"2'}}
    assert orjson.loads(enc.clear()) == {"event": "clear", "streamSid": SID}
    assert codec.encode_media(SID, b"") == enc.media(b"")
    assert codec.encode_mark(SID, "a") == enc.mark("a")
    assert codec.encode_clear(SID) == enc.clear()
