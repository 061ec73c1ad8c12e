"""Fuzz: 10,000 random and malformed messages through a real socket leave socket and worker up."""
from __future__ import annotations

import base64
import json
import random

import pytest
from media_harness import TEST_AUTH_TOKEN, token
from websockets.sync.client import connect

from twilio_sim.media_protocol import signed_upgrade

pytestmark = pytest.mark.slow
SID, CALL = "MZ" + "f" * 32, "CA" + "f" * 32
FRAME = bytes(range(1, 161))


def start_message() -> dict:
    return {"event": "start", "sequenceNumber": "1", "streamSid": SID,
            "start": {"accountSid": "AC" + "0" * 32, "streamSid": SID, "callSid": CALL,
                      "tracks": ["inbound"],
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1},
                      "customParameters": {"conference": "room", "tenant": "1",
                                           "token": token("ai", "ai", call=CALL)}}}


def media_message(seq: int, payload: bytes = FRAME) -> str:
    return json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": SID,
                       "media": {"track": "inbound", "chunk": str(seq), "timestamp": str(seq),
                                 "payload": base64.b64encode(payload).decode()}})


def junk(rng: random.Random, seq: int) -> str | bytes:
    """One random or malformed message (never a valid stop of our stream)."""
    kind = rng.randrange(12)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 300))
    if kind == 1:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(1, 80)))
    if kind == 2:
        return json.dumps(rng.choice([[], 1, "x", None, 3.5, {"event": None}]))
    if kind == 3:
        return json.dumps({"event": rng.choice(["dance", "Media", "", "clear", "mark "])})
    msg = json.loads(media_message(seq))
    if kind == 4:
        msg["media"]["payload"] = rng.choice(["!!", "AAA", "====", "A" * 7, 5, None])
    elif kind == 5:
        msg["media"]["payload"] = "A" * rng.randrange(17_000, 40_000)  # oversized
    elif kind == 6:
        msg["streamSid"] = rng.choice([None, 7, "", "MZ-foreign", "x" * 100])
    elif kind == 7:
        msg["sequenceNumber"] = rng.choice(["-1", "1e9", "seven", [], str(seq - 5)])
    elif kind == 8:
        msg = start_message()  # a second start
    elif kind == 9:
        msg = {"event": "stop", "sequenceNumber": str(seq), "streamSid": "MZ-foreign",
               "stop": {"callSid": CALL}}
    elif kind == 10:
        msg = {"event": "mark", "sequenceNumber": str(seq), "streamSid": SID,
               "mark": {"name": rng.choice(["g9-s1", "g1-s999", "", "x" * 500, 3])}}
    else:
        depth = rng.randrange(1, 2000)  # deeply nested JSON
        msg["media"] = "@"
        return json.dumps(msg).replace('"@"', "[" * depth + "1" + "]" * depth)
    return json.dumps(msg)


def test_ten_thousand_bad_messages_leave_socket_and_worker_alive(media_server):
    server = media_server()
    url = server.ws("/twilio/ai-stream")
    _, signature = signed_upgrade(url, TEST_AUTH_TOKEN)
    rng = random.Random(4)
    with connect(url, additional_headers={"X-Twilio-Signature": signature},
                 compression=None, max_size=2**24) as ws:
        ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send(media_message(1))  # media before start
        ws.send(json.dumps(start_message()))
        for seq in range(2, 10_002):
            ws.send(junk(rng, seq))
        for seq in range(20_000, 20_010):  # the call still works: audio echoes back
            ws.send(media_message(seq, FRAME))
        echoed = b""
        while len(echoed) < 1600:
            msg = json.loads(ws.recv(timeout=10))
            if msg["event"] == "media":
                echoed += base64.b64decode(msg["media"]["payload"])
        assert FRAME in echoed
    skipped = server.metric("forkline_media_malformed_total", reason="not_json")
    assert skipped > 0
    total = sum(server.metric("forkline_media_malformed_total", reason=r) for r in (
        "not_json", "not_object", "unknown_event", "bad_base64", "bad_payload", "oversized",
        "missing_stream_sid", "bad_stream_sid", "foreign_stream_sid", "bad_sequenceNumber",
        "late_sequence", "second_start", "bad_media", "bad_name", "media_before_start"))
    assert total >= 8000
    assert server.metric("forkline_media_malformed_total", reason="media_before_start") == 1
    assert server.alive()
