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
    """Reversible escaping for a path component: `~XX` per byte outside [A-Za-z0-9_-].

    No dots survive (no ".." components) and distinct names stay distinct (col.x -> col~2Ex,
    col_x -> col_x); `unescape` gives the name back.
    """
    escaped = re.sub(rb"[^A-Za-z0-9_-]", lambda m: b"~%02X" % m.group()[0], part.encode())
    return escaped.decode() or "~"


def unescape(component: str) -> str:
    """The name a `_safe` path component was made from."""
    if component == "~":
        return ""
    raw = re.sub(rb"~([0-9A-F]{2})", lambda m: bytes((int(m.group(1), 16),)), component.encode())
    return raw.decode()


class Recordings:
    """Start/stop WAV recordings of taps for tenants that opted in."""

    def __init__(self, hub: TapHub, directory: str) -> None:
        self.hub = hub
        self.directory = directory
        self._active: dict[str, tuple[WavRecorder, Callable[[], None]]] = {}
        self._owners: dict[str, str | None] = {}

    def start(self, key: str, conference: str, name: str, owner: str | None = None) -> str:
        """Record tap `key` into <dir>/<conference>/<name>.wav; returns the path.

        A socket taking over a live recording (a reconnect) keeps appending to it and becomes
        its owner; a recording that was already finished is never overwritten: the next one is
        <name>~r2.wav, ~r3, ... (`~r` is never produced by the escaping).
        """
        if key in self._active:
            self._owners[key] = owner
            return self._active[key][0].path
        folder, base = os.path.join(self.directory, _safe(conference)), _safe(name)
        path, n = os.path.join(folder, base + ".wav"), 1
        while os.path.exists(path):
            n += 1
            path = os.path.join(folder, f"{base}~r{n}.wav")
        recorder = WavRecorder(path)
        self._active[key] = (recorder, self.hub.subscribe(key, recorder))
        self._owners[key] = owner
        return path

    def stop(self, key: str, owner: str | None = None) -> str | None:
        """Finish the recording of `key` (only if `owner` still owns it); returns its path."""
        if owner is not None and self._owners.get(key, owner) != owner:
            return None  # another socket took this recording over: never stop it
        entry = self._active.pop(key, None)
        self._owners.pop(key, None)
        if entry is None:
            return None
        recorder, unsubscribe = entry
        unsubscribe()
        recorder.close()
        return recorder.path
