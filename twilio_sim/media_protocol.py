"""Sans-I/O Media Streams session: the JSON Twilio sends, and what it does with app messages.

One `StreamSession` per WebSocket. It numbers messages (`sequenceNumber` per socket from "1";
`chunk` per track from "1"; `timestamp` in ms since the stream started, from the caller's
tick count), and on bidirectional streams feeds app `media`/`mark`/`clear` into a
`PlayoutBuffer`, returning the `mark` echoes Twilio would send. Messages are dicts; the
I/O shell serializes them.
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator

from twilio_sim.audio import FRAME_MS
from twilio_sim.playout import PlayoutBuffer

MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
TWIML_TRACKS = {"inbound_track": ["inbound"], "outbound_track": ["outbound"],
                "both_tracks": ["inbound", "outbound"]}


def normalize_tracks(tracks) -> list[str]:
    """TwiML `track` ("inbound_track"...) or a list of "inbound"/"outbound" -> start.tracks."""
    if isinstance(tracks, str):
        if tracks in TWIML_TRACKS:
            return list(TWIML_TRACKS[tracks])
        tracks = [tracks]
    out = [t.removesuffix("_track") for t in tracks]
    if not out or any(t not in ("inbound", "outbound") for t in out):
        raise ValueError(f"bad tracks {tracks!r}")
    return sorted(set(out), key=["inbound", "outbound"].index)


def new_stream_sid() -> str:
    """A fresh MZ… stream SID."""
    return "MZ" + uuid.uuid4().hex


def signed_upgrade(url: str, auth_token: str) -> tuple[str, str]:
    """(URL signed as Twilio does for a stream upgrade, X-Twilio-Signature value)."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    return base, RequestValidator(auth_token).compute_signature(base, params)


class StreamConnectError(Exception):
    """The upgrade failed; `code` is Twilio's stream error code (31901, 31902, 31920...)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code


@dataclass
class Dropped:
    """An app message Twilio ignores, and why."""

    reason: str


@dataclass
class StreamSession:
    """Message numbering and app-message handling for one stream socket."""

    account_sid: str
    call_sid: str
    stream_sid: str
    tracks: list[str] = field(default_factory=lambda: ["inbound"])
    custom_parameters: dict[str, str] = field(default_factory=dict)
    bidirectional: bool = False

    def __post_init__(self) -> None:
        self.tracks = normalize_tracks(self.tracks)
        if self.bidirectional and self.tracks != ["inbound"]:
            raise ValueError("a bidirectional stream carries the inbound track only")
        self.playout = PlayoutBuffer() if self.bidirectional else None
        self._seq = 0
        self._chunks = dict.fromkeys(self.tracks, 0)
        self.dropped = 0
        self.clears = 0
        self.received_media = 0
        self.first_media_at: float | None = None  # when the app's first media arrived
        self._mark_arrivals: deque[float] = deque()
        self.mark_waits: deque[float] = deque(maxlen=10_000)  # app mark -> echo, seconds

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    # Twilio -> app --------------------------------------------------------------------------
    def connected(self) -> dict:
        """The first message: no sequenceNumber, no streamSid."""
        return {"event": "connected", "protocol": "Call", "version": "1.0.0"}

    def start(self) -> dict:
        """The start message (sequenceNumber "1")."""
        return {"event": "start", "sequenceNumber": self._next_seq(),
                "start": {"accountSid": self.account_sid, "streamSid": self.stream_sid,
                          "callSid": self.call_sid, "tracks": list(self.tracks),
                          "customParameters": dict(self.custom_parameters),
                          "mediaFormat": dict(MEDIA_FORMAT)},
                "streamSid": self.stream_sid}

    def media(self, track: str, payload: bytes, tick: int) -> dict:
        """One media message for `track`; `tick` is the 20 ms frame index since start."""
        self._chunks[track] += 1
        return {"event": "media", "sequenceNumber": self._next_seq(),
                "media": {"track": track, "chunk": str(self._chunks[track]),
                          "timestamp": str(tick * FRAME_MS),
                          "payload": base64.b64encode(payload).decode("ascii")},
                "streamSid": self.stream_sid}

    def dtmf(self, digit: str) -> dict:
        """A dtmf message (bidirectional streams only)."""
        if not self.bidirectional:
            raise ValueError("dtmf is sent on bidirectional streams only")
        return {"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next_seq(),
                "dtmf": {"track": "inbound_track", "digit": digit}}

    def mark(self, name: str) -> dict:
        """The echo of a mark whose audio has played (or was cleared)."""
        return {"event": "mark", "sequenceNumber": self._next_seq(),
                "streamSid": self.stream_sid, "mark": {"name": name}}

    def stop(self) -> dict:
        """The stop message."""
        return {"event": "stop", "sequenceNumber": self._next_seq(),
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                "streamSid": self.stream_sid}

    # app -> Twilio --------------------------------------------------------------------------
    def receive(self, text: str | bytes, now: float = 0.0) -> list[dict] | Dropped:
        """Apply one app message at time `now`: the mark echoes to send now, or a Dropped."""
        if self.playout is None:
            return self._drop("message on a unidirectional stream")
        try:
            msg = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            return self._drop("not JSON")
        if not isinstance(msg, dict):
            return self._drop("not a JSON object")
        if msg.get("streamSid") != self.stream_sid:
            return self._drop("missing or wrong streamSid")
        event = msg.get("event")
        if event == "media":
            if self.first_media_at is None:
                self.first_media_at = now
            return self._on_media(msg.get("media"))
        if event == "mark":
            mark = msg.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(name, str):
                return self._drop("mark without a name")
            self._mark_arrivals.append(now)
            return self._echoes(self.playout.push_mark(name), now)
        if event == "clear":
            self.clears += 1
            return self._echoes(self.playout.clear(), now)
        return self._drop(f"unknown event {str(event)[:32]!r}")

    def _on_media(self, media) -> list[dict] | Dropped:
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            return self._drop("media without a payload")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return self._drop("bad base64")
        if not self.playout.push_media(audio):
            return self._drop("31931 media discarded: over 10 minutes buffered")
        self.received_media += 1
        return []

    def playout_tick(self, now: float = 0.0) -> tuple[bytes, list[dict]]:
        """Play one 20 ms frame of app audio at time `now`: (frame, mark echoes now due)."""
        frame, done = self.playout.next_frame()
        return frame, self._echoes(done, now)

    def _echoes(self, names: list[str], now: float) -> list[dict]:
        # Echoes always leave in the order marks arrived, so a FIFO of arrival times suffices.
        for _ in names:
            self.mark_waits.append(now - self._mark_arrivals.popleft())
        return [self.mark(n) for n in names]

    def _drop(self, reason: str) -> Dropped:
        self.dropped += 1
        return Dropped(reason)
