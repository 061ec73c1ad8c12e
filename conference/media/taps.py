"""Internal live-audio subscriptions (supervisor listen) and per-leg / mix WAV recordings.

Keys: a leg's callSid (its inbound audio), "out:" + callSid (what the AI speaks on its leg) and
"mix:<tenant id>:<conference name>" (the conference mix as the AI leg hears it). Callbacks get
8 kHz mu-law bytes on the audio path, so they must be quick and must not block. Use
`conference.media.registry.subscribe(app, key, callback)` from other components.
"""
from __future__ import annotations

import os
import re
import wave
from collections.abc import Callable

from agents.audio import ulaw_to_pcm16
from conference.logs import get_logger

log = get_logger("media.taps")
Callback = Callable[[bytes], None]


class TapHub:
    """Fan audio out to subscribers; a failing subscriber is dropped, never the call."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Callback]] = {}
        self.errors = 0

    def subscribe(self, key: str, callback: Callback) -> Callable[[], None]:
        """Receive every chunk published under `key`; returns the unsubscribe function."""
        self._subs.setdefault(key, []).append(callback)

        def unsubscribe() -> None:
            subs = self._subs.get(key, [])
            if callback in subs:
                subs.remove(callback)
            if not subs:
                self._subs.pop(key, None)

        return unsubscribe

    def publish(self, key: str, ulaw: bytes) -> None:
        """Deliver `ulaw` to the subscribers of `key` (cheap when there are none)."""
        subs = self._subs.get(key)
        if not subs:
            return
        for callback in tuple(subs):
            try:
                callback(ulaw)
            except Exception:
                self.errors += 1
                log.exception("tap subscriber failed; dropped", extra={"event": "tap_error"})
                if callback in subs:
                    subs.remove(callback)

    def has_subscribers(self, key: str) -> bool:
        """True when someone listens to `key`."""
        return bool(self._subs.get(key))


class WavRecorder:
    """A tap subscriber that writes 8 kHz PCM16 mono WAV (the file is finished by close())."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self._wav = wave.open(path, "wb")  # noqa: SIM115 (closed by close(), not a block)
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(8000)
        self.frames = 0

    def __call__(self, ulaw: bytes) -> None:
        self._wav.writeframesraw(ulaw_to_pcm16(ulaw))
        self.frames += len(ulaw)

    def close(self) -> None:
        """Patch the header with the final length."""
        self._wav.close()


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", part)[:64] or "_"  # no dots: no ".." components


class Recordings:
    """Start/stop WAV recordings of taps for tenants that opted in."""

    def __init__(self, hub: TapHub, directory: str) -> None:
        self.hub = hub
        self.directory = directory
        self._active: dict[str, tuple[WavRecorder, Callable[[], None]]] = {}

    def start(self, key: str, conference: str, name: str) -> str:
        """Record tap `key` into <dir>/<conference>/<name>.wav; returns the path."""
        if key in self._active:
            return self._active[key][0].path
        path = os.path.join(self.directory, _safe(conference), _safe(name) + ".wav")
        recorder = WavRecorder(path)
        self._active[key] = (recorder, self.hub.subscribe(key, recorder))
        return path

    def stop(self, key: str) -> str | None:
        """Finish the recording of `key`, if any; returns its path."""
        entry = self._active.pop(key, None)
        if entry is None:
            return None
        recorder, unsubscribe = entry
        unsubscribe()
        recorder.close()
        return recorder.path
