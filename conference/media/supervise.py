"""Browser supervisor relay (sans-I/O): the conference audio Twilio sends on the supervisor's
`<Connect><Stream>` goes to the browser, and the browser's microphone goes back to Twilio.

Both directions are bounded and drop their oldest audio: a browser that stops reading never
slows the call, and a microphone that bursts never builds up delay. Audio towards Twilio leaves
paced, one 20 ms frame per tick (catching up at most CATCH_UP frames after a late tick), so
Twilio's playout buffer never fills with a burst the browser sent at once.

Relays live on the worker where the browser's socket is (it opens the relay before dialing);
the Twilio leg finds it here by (tenant, conference, label), or, when its stream landed on
another worker, reaches it through Redis (conference.media.supervise_remote).
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from flask import Flask

FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
FRAME_MS = 20.0
TO_BROWSER_CHUNKS = 25  # ~0.5 s
TO_TWILIO_FRAMES = 10  # ~0.2 s: more than that of microphone is late, dropped oldest first
CATCH_UP = 2  # frames sent at once after a late tick, at most
EXTENSION = "supervisor_relays"


class MicRelay:
    """Hand-offs between one browser socket and one Twilio supervisor stream (thread-safe
    enough for greenlets: deque appends and pops are atomic)."""

    def __init__(self) -> None:
        self.to_browser: deque[bytes] = deque(maxlen=TO_BROWSER_CHUNKS)
        self.to_twilio: deque[bytes] = deque(maxlen=TO_TWILIO_FRAMES)
        self.notices: deque[dict] = deque(maxlen=16)
        self.ready = threading.Event()  # the browser's sender has something to do
        self.dropped_to_browser = self.dropped_to_twilio = self.malformed = 0
        self.twilio_attached = False
        self.ended = False  # the Twilio leg went away, or the browser did
        self._next_ms: float | None = None
        # Set while the leg's stream is on another worker: frames go there (supervise_remote).
        self.mic_sink: Callable[[bytes], None] | None = None

    # ---- Twilio side -------------------------------------------------------------------------
    def from_twilio(self, ulaw: bytes) -> None:
        """What the supervisor hears (a media payload); never blocks."""
        if len(self.to_browser) == self.to_browser.maxlen:
            self.dropped_to_browser += 1
        self.to_browser.append(ulaw)
        self.ready.set()

    def twilio_started(self, call_sid: str) -> None:
        """The supervisor's stream is up: the browser is in the conference."""
        self.twilio_attached = True
        self.notify({"type": "connected", "call_sid": call_sid})

    def twilio_ended(self) -> None:
        """The stream ended (removed, conference over, socket lost)."""
        self.ended = True
        self.notify({"type": "ended"})

    def due(self, now_ms: float) -> list[bytes]:
        """Microphone frames to send to Twilio now (paced at one per FRAME_MS)."""
        if not self.to_twilio:
            self._next_ms = None  # idle: the next frame goes out at once
            return []
        if self._next_ms is None:
            self._next_ms = now_ms
        out: list[bytes] = []
        while self.to_twilio and self._next_ms <= now_ms and len(out) < CATCH_UP:
            out.append(self.to_twilio.popleft())
            self._next_ms += FRAME_MS
        if self._next_ms <= now_ms:
            self._next_ms = now_ms + FRAME_MS  # far behind: skip the missed ticks, not audio
        return out

    # ---- browser side ------------------------------------------------------------------------
    def from_browser(self, frame: bytes) -> bool:
        """One microphone frame (160 bytes of mu-law); anything else is counted and skipped."""
        if len(frame) != FRAME_BYTES:
            self.malformed += 1
            return False
        if self.mic_sink is not None:
            self.mic_sink(frame)
            return True
        if len(self.to_twilio) == self.to_twilio.maxlen:
            self.dropped_to_twilio += 1
        self.to_twilio.append(frame)
        return True

    def notify(self, notice: dict) -> None:
        """A state message for the browser (sent as JSON text by its socket's sender)."""
        self.notices.append(notice)
        self.ready.set()

    def take(self, timeout: float) -> tuple[list[dict], list[bytes]]:
        """(notices, audio chunks) queued, waiting up to `timeout` for the first."""
        if not self.ready.wait(timeout):
            return [], []
        self.ready.clear()
        notices: list[dict] = []
        chunks: list[bytes] = []
        while self.notices:
            notices.append(self.notices.popleft())
        while self.to_browser:
            chunks.append(self.to_browser.popleft())
        return notices, chunks

    def close(self) -> None:
        """The browser went away: the Twilio leg stops sending."""
        self.ended = True
        self.ready.set()


def _relays(app: Flask) -> dict[tuple[str, str, str], MicRelay]:
    return app.extensions.setdefault(EXTENSION, {})


def open_relay(app: Flask, tenant: int | str, conference: str, label: str) -> MicRelay | None:
    """A new relay for the browser supervisor `label`; None if one is open already (a second
    page of the same user)."""
    relays, key = _relays(app), (str(tenant), conference, label)
    current = relays.get(key)
    if current is not None and not current.ended:
        return None
    relay = relays[key] = MicRelay()
    return relay


def find_relay(app: Flask, tenant: int | str, conference: str, label: str) -> MicRelay | None:
    """The open relay a supervisor stream belongs to, or None."""
    relay = _relays(app).get((str(tenant), conference, label))
    return relay if relay is not None and not relay.ended else None


def close_relay(app: Flask, tenant: int | str, conference: str, label: str,
                relay: MicRelay) -> None:
    """Forget `relay` (only if it is still the one registered)."""
    relay.close()
    relays, key = _relays(app), (str(tenant), conference, label)
    if relays.get(key) is relay:
        del relays[key]
