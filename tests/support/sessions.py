"""Driving an AgentSession in tests: feed caller audio, read events up to the one wanted."""
from __future__ import annotations

from agents import audio
from tests.fakes.realtime_server import silence_ulaw, tone_ulaw


def speak(session, ulaw: bytes) -> None:
    """Feed audio in 20 ms frames, as the media plane does."""
    for frame in audio.split_frames(ulaw):
        session.send_audio(frame)


def utterance(speech_ms: int = 400, silence_ms: int = 700) -> bytes:
    """A caller utterance as the Realtime fake's VAD hears it: a tone, then silence."""
    return tone_ulaw(speech_ms) + silence_ulaw(silence_ms)


def pull_until(session, match, timeout: float = 20.0) -> list:
    """Events up to and including the first that is a `match` (a type) or matches (a predicate).

    Fails on a stalled stream.
    """
    def wanted(event) -> bool:
        return isinstance(event, match) if isinstance(match, type) else bool(match(event))

    events: list = []
    while True:
        event = session.next_event(timeout=timeout)
        assert event is not None, f"no {match} after {[type(e).__name__ for e in events]}"
        events.append(event)
        if wanted(event):
            return events
