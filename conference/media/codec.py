"""Sans-I/O Twilio Media Streams codec: text frames <-> frozen dataclasses; never raises."""
from __future__ import annotations

import binascii
from dataclasses import dataclass, field

import orjson

MAX_MESSAGE_BYTES = 16 * 1024  # a 20 ms frame is ~330 bytes; Twilio never sends more than a few KB
MAX_SID_LEN = 64
TRACKS = ("inbound", "outbound")


@dataclass(frozen=True, slots=True)
class Connected:
    """First message on every socket; carries no streamSid."""

    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class Start:
    """Stream metadata: sids, tracks and the <Parameter>s of the TwiML."""

    sequence: int
    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...]
    params: dict = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True, slots=True)
class Media:
    """One chunk of audio (raw mu-law bytes, base64-decoded)."""

    sequence: int
    stream_sid: str
    track: str
    chunk: int
    timestamp: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Dtmf:
    """A key press on a bidirectional stream."""

    sequence: int
    stream_sid: str
    digit: str


@dataclass(frozen=True, slots=True)
class Mark:
    """A mark we sent has played out (or was flushed by clear)."""

    sequence: int
    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class Stop:
    """The stream ended."""

    sequence: int
    stream_sid: str
    call_sid: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """Peer input we refuse; `reason` is a short code for counters and sampled logs."""

    reason: str
    detail: str = ""


Message = Connected | Start | Media | Dtmf | Mark | Stop


class _Bad(Exception):
    """Internal: raised by field readers, turned into Malformed at the boundary."""


def _s(obj: dict, key: str, maxlen: int = 256) -> str:
    value = obj.get(key)
    if type(value) is not str or not value or len(value) > maxlen:
        raise _Bad(f"bad_{key}")
    return value


def _n(obj: dict, key: str) -> int:
    """A decimal string field (Twilio sends numbers as strings); ints are tolerated."""
    value = obj.get(key)
    if type(value) is int and value >= 0:
        return value
    if type(value) is not str or not value.isdigit() or len(value) > 12:
        raise _Bad(f"bad_{key}")
    return int(value)


def _obj(obj: dict, key: str) -> dict:
    value = obj.get(key)
    if type(value) is not dict:
        raise _Bad(f"bad_{key}")
    return value


def _sid(obj: dict) -> str:
    value = obj.get("streamSid")
    if value is None:
        raise _Bad("missing_stream_sid")
    if type(value) is not str or not value or len(value) > MAX_SID_LEN:
        raise _Bad("bad_stream_sid")
    return value


def _connected(msg: dict) -> Connected:
    return Connected(protocol=_s(msg, "protocol"), version=_s(msg, "version"))


def _start(msg: dict) -> Start:
    body = _obj(msg, "start")
    sid = _s(body, "streamSid", MAX_SID_LEN)
    if msg.get("streamSid", sid) != sid:
        raise _Bad("stream_sid_mismatch")
    tracks = body.get("tracks", ["inbound"])
    if type(tracks) is not list or not tracks or any(t not in TRACKS for t in tracks):
        raise _Bad("bad_tracks")
    params = body.get("customParameters") or {}
    if type(params) is not dict or any(
        type(k) is not str or type(v) is not str or len(k) + len(v) > 500
        for k, v in params.items()
    ):
        raise _Bad("bad_customParameters")
    fmt = body.get("mediaFormat") or {}
    if type(fmt) is not dict:
        raise _Bad("bad_mediaFormat")
    encoding = fmt.get("encoding", "audio/x-mulaw")
    rate, channels = fmt.get("sampleRate", 8000), fmt.get("channels", 1)
    if encoding != "audio/x-mulaw" or rate != 8000 or channels != 1:
        raise _Bad("unsupported_media_format")
    return Start(
        sequence=_n(msg, "sequenceNumber"),
        stream_sid=sid,
        account_sid=_s(body, "accountSid", MAX_SID_LEN),
        call_sid=_s(body, "callSid", MAX_SID_LEN),
        tracks=tuple(tracks),
        params=dict(params),
    )


def _media(msg: dict) -> Media:
    body = _obj(msg, "media")
    track = body.get("track", "inbound")
    if track not in TRACKS:
        raise _Bad("bad_track")
    payload = body.get("payload")
    if type(payload) is not str:
        raise _Bad("bad_payload")
    try:
        audio = binascii.a2b_base64(payload, strict_mode=True)
    except (binascii.Error, ValueError):
        raise _Bad("bad_base64") from None
    return Media(
        sequence=_n(msg, "sequenceNumber"),
        stream_sid=_sid(msg),
        track=track,
        chunk=_n(body, "chunk"),
        timestamp=_n(body, "timestamp"),
        payload=audio,
    )


def _dtmf(msg: dict) -> Dtmf:
    digit = _s(_obj(msg, "dtmf"), "digit", 1)
    if digit not in "0123456789*#ABCDabcdw":
        raise _Bad("bad_digit")
    return Dtmf(sequence=_n(msg, "sequenceNumber"), stream_sid=_sid(msg), digit=digit)


def _mark(msg: dict) -> Mark:
    name = _s(_obj(msg, "mark"), "name", 128)
    return Mark(sequence=_n(msg, "sequenceNumber"), stream_sid=_sid(msg), name=name)


def _stop(msg: dict) -> Stop:
    body = _obj(msg, "stop")
    call_sid = body.get("callSid", "")
    if type(call_sid) is not str:
        raise _Bad("bad_callSid")
    return Stop(sequence=_n(msg, "sequenceNumber"), stream_sid=_sid(msg), call_sid=call_sid)


_PARSERS = {
    "media": _media,  # first: by far the most frequent
    "mark": _mark,
    "connected": _connected,
    "start": _start,
    "dtmf": _dtmf,
    "stop": _stop,
}


def parse(raw: str | bytes | None, max_bytes: int = MAX_MESSAGE_BYTES) -> Message | Malformed:
    """Decode one WebSocket text frame into a message, or a Malformed value (never raises)."""
    if raw is None:
        return Malformed("empty")
    if len(raw) > max_bytes:
        return Malformed("oversized", str(len(raw)))
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Malformed("not_json")
    if type(msg) is not dict:
        return Malformed("not_object")
    event = msg.get("event")
    parser = _PARSERS.get(event) if type(event) is str else None
    if parser is None:
        return Malformed("unknown_event", event[:32] if type(event) is str else "")
    try:
        return parser(msg)
    except _Bad as exc:
        return Malformed(str(exc), msg["event"])


class Encoder:
    """Outbound messages for one stream, built from pre-encoded templates (hot path)."""

    __slots__ = ("stream_sid", "_media_head", "_mark_head", "clear_text")

    def __init__(self, stream_sid: str) -> None:
        sid = orjson.dumps(stream_sid).decode()
        self.stream_sid = stream_sid
        self._media_head = '{"event":"media","streamSid":' + sid + ',"media":{"payload":"'
        self._mark_head = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":'
        self.clear_text = '{"event":"clear","streamSid":' + sid + "}"

    def media(self, ulaw: bytes) -> str:
        """A media message carrying raw mu-law `ulaw`."""
        return self._media_head + binascii.b2a_base64(ulaw, newline=False).decode() + '"}}'

    def mark(self, name: str) -> str:
        """A mark message named `name`."""
        return self._mark_head + orjson.dumps(name).decode() + "}}"

    def clear(self) -> str:
        """A clear message (flushes Twilio's playback buffer)."""
        return self.clear_text


def encode_media(stream_sid: str, ulaw: bytes) -> str:
    """One outbound media message (convenience; shells keep an Encoder per stream)."""
    return Encoder(stream_sid).media(ulaw)


def encode_mark(stream_sid: str, name: str) -> str:
    """One outbound mark message."""
    return Encoder(stream_sid).mark(name)


def encode_clear(stream_sid: str) -> str:
    """One outbound clear message."""
    return Encoder(stream_sid).clear()
