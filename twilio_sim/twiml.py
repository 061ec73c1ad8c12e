"""Sans-I/O TwiML parser: XML text -> a list of typed verbs, or TwimlError (which ends the call)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(ValueError):
    """The document is not valid TwiML for this simulator (Twilio error 12100/12200)."""


@dataclass(frozen=True)
class Say:
    text: str
    loop: int = 1
    voice: str | None = None


@dataclass(frozen=True)
class Play:
    url: str
    loop: int = 1


@dataclass(frozen=True)
class Pause:
    length: float = 1.0


@dataclass(frozen=True)
class StreamSpec:
    """A <Stream> noun of <Start> or <Connect>."""

    url: str
    name: str | None = None
    track: str = "inbound_track"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    parameters: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StartStream:
    stream: StreamSpec


@dataclass(frozen=True)
class StopStream:
    name: str | None


@dataclass(frozen=True)
class ConnectStream:
    stream: StreamSpec
    action: str | None = None  # requested when <Connect> ends (twiml/connect#action)
    method: str = "POST"


@dataclass(frozen=True)
class DialConference:
    name: str
    muted: bool = False
    beep: str = "true"
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    coach: str | None = None
    participant_label: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_event: tuple = ()
    wait_url: str | None = None
    action: str | None = None
    method: str = "POST"


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Hangup:
    pass


TRACKS = ("inbound_track", "outbound_track", "both_tracks")


def parse(document: str | bytes) -> list:
    """Parse a TwiML document into verbs; raise TwimlError on bad XML or unknown verbs."""
    try:
        root = ET.fromstring(document)
    except (ET.ParseError, ValueError) as exc:
        raise TwimlError(f"invalid XML: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(f"root element must be <Response>, not <{root.tag}>")
    return [_verb(el) for el in root]


def _verb(el: ET.Element):
    handler = _VERBS.get(el.tag)
    if handler is None:
        raise TwimlError(f"unsupported verb <{el.tag}>")
    return handler(el)


def _bool(el: ET.Element, name: str, default: bool) -> bool:
    raw = el.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise TwimlError(f"<{el.tag}> {name} must be true or false")
    return raw.lower() == "true"


def _number(el: ET.Element, name: str, default: float, lo: float, hi: float) -> float:
    raw = el.get(name)
    try:
        value = default if raw is None else float(raw)
    except ValueError:
        raise TwimlError(f"<{el.tag}> {name} must be a number") from None
    if not lo <= value <= hi:
        raise TwimlError(f"<{el.tag}> {name} out of range")
    return value


def _text(el: ET.Element) -> str:
    return (el.text or "").strip()


def _say(el):
    return Say(_text(el), int(_number(el, "loop", 1, 0, 1000)), el.get("voice"))


def _play(el):
    if not _text(el):
        raise TwimlError("<Play> needs a URL")
    return Play(_text(el), int(_number(el, "loop", 1, 0, 1000)))


def _pause(el):
    return Pause(_number(el, "length", 1, 0, 3600))


def _stream(el: ET.Element, bidirectional: bool) -> StreamSpec:
    if el.tag != "Stream":
        raise TwimlError(f"unsupported noun <{el.tag}>")
    url = el.get("url", "")
    scheme = url.partition("://")[0] if "://" in url else None
    if not url or "?" in url or scheme not in (None, "ws", "wss"):
        raise TwimlError(f"<Stream> url must be ws(s):// without a query string: {url[:80]}")
    track = el.get("track", "inbound_track")
    if track not in TRACKS or (bidirectional and track != "inbound_track"):
        raise TwimlError(f"<Stream> track {track!r} is not allowed here")
    params = {}
    for child in el:
        if child.tag != "Parameter" or not child.get("name"):
            raise TwimlError(f"<Stream> may only contain named <Parameter>, got <{child.tag}>")
        params[child.get("name")] = child.get("value", "")
    return StreamSpec(url, el.get("name"), track, el.get("statusCallback"),
                      el.get("statusCallbackMethod", "POST").upper(), params)


def _only_child(el: ET.Element) -> ET.Element:
    children = list(el)
    if len(children) != 1:
        raise TwimlError(f"<{el.tag}> needs exactly one noun")
    return children[0]


def _start(el):
    return StartStream(_stream(_only_child(el), bidirectional=False))


def _stop(el):
    child = _only_child(el)
    if child.tag != "Stream":
        raise TwimlError(f"unsupported noun <{child.tag}> in <Stop>")
    return StopStream(child.get("name"))


def _connect(el):
    return ConnectStream(_stream(_only_child(el), bidirectional=True), el.get("action"),
                         el.get("method", "POST").upper())


def _dial(el):
    child = _only_child(el)
    if child.tag != "Conference" or not _text(child):
        raise TwimlError("<Dial> supports only a named <Conference> in this simulator")
    beep = child.get("beep", "true")
    if beep not in ("true", "false", "onEnter", "onExit"):
        raise TwimlError("<Conference> beep must be true, false, onEnter or onExit")
    events = tuple((child.get("statusCallbackEvent") or "").replace(",", " ").split())
    return DialConference(
        _text(child), _bool(child, "muted", False), beep,
        _bool(child, "startConferenceOnEnter", True), _bool(child, "endConferenceOnExit", False),
        child.get("coach"), child.get("participantLabel"), child.get("statusCallback"),
        child.get("statusCallbackMethod", "POST").upper(), events, child.get("waitUrl"),
        el.get("action"), el.get("method", "POST").upper())


def _redirect(el):
    if not _text(el):
        raise TwimlError("<Redirect> needs a URL")
    return Redirect(_text(el), el.get("method", "POST").upper())


_VERBS = {"Say": _say, "Play": _play, "Pause": _pause, "Start": _start, "Stop": _stop,
          "Connect": _connect, "Dial": _dial, "Redirect": _redirect, "Hangup": lambda el: Hangup()}
