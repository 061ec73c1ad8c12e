"""Shared helpers for the Media Streams tests: a status recorder, a client factory and the
documented messages."""
from __future__ import annotations

import base64
import queue

from twilio_sim.media_client import MediaStreamClient

TOKEN = "sim-auth-token"
AC, CA = "AC" + "1" * 32, "CA" + "2" * 32


class StatusLog:
    def __init__(self):
        self.events: queue.Queue = queue.Queue()

    def __call__(self, client, event, error):
        self.events.put((client.stream_sid, event, error))

    def next(self):
        return self.events.get(timeout=5)


def make_client(url, **kw) -> MediaStreamClient:
    kw.setdefault("tracks", "inbound_track")
    return MediaStreamClient(url, auth_token=TOKEN, account_sid=AC, call_sid=CA, **kw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def media(sid: str, data: bytes) -> dict:
    return {"event": "media", "streamSid": sid, "media": {"payload": b64(data)}}


def documented_start(account_sid: str, call_sid: str, stream_sid: str, tracks: list[str],
                     custom: dict) -> dict:
    """The first `start` message of a stream, field for field as Twilio documents it."""
    return {"event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
            "start": {"accountSid": account_sid, "streamSid": stream_sid, "callSid": call_sid,
                      "tracks": tracks, "customParameters": custom,
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}}
