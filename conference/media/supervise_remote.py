"""Browser supervisor across workers: the page's socket and the leg's `<Connect><Stream>` may
land on different workers or hosts. The audio then rides the listen relay (conference.media.relay)
both ways, as two taps, and only while the ends are apart:

- `sup:<tenant>:<conference>:<label>`: what the leg hears. The stream's worker publishes it as a
  tap; the page's worker wants it (one shared subscription, ListenHub) from the moment the page
  opens its relay, before it dials, so the stream's worker knows at its start that the browser
  is elsewhere.
- `mic:<…>`: the microphone. The page's worker publishes it as a tap once the leg is connected
  elsewhere; the stream's worker wants it and feeds a local MicRelay, whose bounded drop-oldest
  queue and pacing (one frame per 20 ms) are the same as on the local path.

`connected` and `ended` travel on the signal bus. When the stream lands on the page's own worker
the local relay is used and the page's worker withdraws its want: nothing goes through Redis.
A page whose worker died withdraws nothing: the stream's worker notices its want entry expired
and ends the leg (conference.media.page_watch).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from conference.logs import get_logger
from conference.media.page_watch import PageWatch, Timing
from conference.media.supervise import MicRelay

if TYPE_CHECKING:
    from conference.media.registry import MediaPlane

log = get_logger("media.supervise_remote")
SIGNAL = "supervisor"


def supervisor_key(tenant: int | str | None, conference: str | None, label: str | None) -> str:
    """The tap key of what a browser supervisor's leg hears."""
    return f"sup:{tenant or ''}:{conference or ''}:{label or ''}"


def mic_key(key: str) -> str:
    """The tap key of the microphone of the supervisor `key`."""
    return "mic:" + key.removeprefix("sup:")


class BrowserEnd:
    """Page side of one browser supervisor: hears and feeds a leg living on another worker."""

    def __init__(self, plane: MediaPlane, relay: MicRelay, key: str) -> None:
        self.plane, self.relay, self.key = plane, relay, key
        self.call_sid: str | None = None  # of the remote leg, once connected
        self._leave: Callable[[], None] | None = None

    def start(self) -> BrowserEnd:
        """Want the leg's audio (before dialing); without Redis, a local leg is the only kind."""
        if self.plane.listeners is not None:
            self.plane.ensure_maintenance()  # this worker's relay publishes the microphone
            self.plane.browser_ends[self.key] = self
            self._leave = _joined(self.plane, self.key, self.relay.from_twilio)
        return self

    def connected(self, call_sid: str) -> None:
        """The leg's stream started on another worker: send the microphone there."""
        if self.relay.twilio_attached or self.relay.ended:
            return
        self.call_sid = call_sid
        self.relay.mic_sink = self._to_tap
        self.plane.relayed.add(mic_key(self.key))
        self.relay.twilio_started(call_sid)

    def ended(self, call_sid: str) -> None:
        """The remote leg's stream ended."""
        if self.call_sid is not None and call_sid == self.call_sid:
            self.relay.twilio_ended()

    def _to_tap(self, frame: bytes) -> None:
        self.plane.taps.publish(mic_key(self.key), frame)

    def settle(self) -> None:
        """The leg turned out local (same worker): stop wanting its audio through Redis."""
        if self.relay.twilio_attached and self.call_sid is None and self._leave is not None:
            self._leave()
            self._leave = None

    def stop(self) -> None:
        """The page left: withdraw everything."""
        if self._leave is not None:
            self._leave()
            self._leave = None
        self.plane.relayed.discard(mic_key(self.key))
        if self.plane.browser_ends.get(self.key) is self:
            del self.plane.browser_ends[self.key]


class TwilioEnd:
    """Stream side of a browser supervisor whose page is on another worker."""

    def __init__(self, plane: MediaPlane, key: str, call_sid: str) -> None:
        self.plane, self.key, self.call_sid = plane, key, call_sid
        self.relay = MicRelay()  # the microphone's queue and pacing, as on the local path
        self._leave: Callable[[], None] | None = None
        self.timing = Timing()  # of the page check (tests shorten it before start)
        self.watch: PageWatch | None = None

    def start(self) -> None:
        """Publish the leg's audio, hear the microphone, tell the page's worker, watch it."""
        assert self.plane.listeners is not None and self.plane.bus is not None
        self.plane.relayed.add(self.key)
        self._leave = _joined(self.plane, mic_key(self.key), self.relay.from_browser)
        self.plane.bus.publish(SIGNAL, key=self.key, event="connected", call_sid=self.call_sid)
        self.watch = PageWatch(self.plane, self.key, self.page_gone, self.timing).start()

    def page_gone(self) -> None:
        """The page's entry expired (its worker died): end the leg as a page close would."""
        self.relay.close()  # the leg's sender closes the stream: the call, so the leg, ends

    def from_twilio(self, ulaw: bytes) -> None:
        """Hot path: a tap publish (the relay's feed is a bounded, drop-oldest append)."""
        self.plane.taps.publish(self.key, ulaw)

    def stop(self) -> None:
        """The stream ended: stop carrying and watching, tell the page."""
        if self.watch is not None:
            self.watch.stop()
        self.plane.relayed.discard(self.key)
        if self._leave is not None:
            self._leave()
            self._leave = None
        if self.plane.bus is not None:
            self.plane.bus.publish(SIGNAL, key=self.key, event="ended", call_sid=self.call_sid)


def _joined(plane: MediaPlane, key: str, callback) -> Callable[[], None] | None:
    """Join the shared subscription of `key`; None when Redis is out (the leg goes on without
    the relayed direction, never fails)."""
    assert plane.listeners is not None
    try:
        return plane.listeners.join(key, callback)
    except Exception:
        log.warning("supervisor relay subscription failed", exc_info=True,
                    extra={"event": "relay"})
        return None


def remote_end(plane: MediaPlane, key: str, call_sid: str) -> TwilioEnd | None:
    """A TwilioEnd when a page on another worker wants this leg (one Redis round trip at the
    stream's start), else None."""
    if plane.relay is None or plane.listeners is None or plane.bus is None:
        return None
    try:
        wanted = plane.relay.wanted([key], time.time())
    except Exception:  # Redis is down: no remote page can be reached anyway
        log.warning("supervisor relay lookup failed", exc_info=True, extra={"event": "relay"})
        return None
    return TwilioEnd(plane, key, call_sid) if wanted else None


def on_signal(plane: MediaPlane, msg: dict) -> None:
    """A bus signal about a supervisor leg on another worker."""
    end = plane.browser_ends.get(str(msg.get("key")))
    if end is None:
        return
    call_sid = str(msg.get("call_sid"))
    if msg.get("event") == "connected":
        end.connected(call_sid)
    elif msg.get("event") == "ended":
        end.ended(call_sid)
