"""Fixtures: a Realtime fake and sessions connected to it through the real openai SDK."""
from __future__ import annotations

import pytest

from agents.base import AgentProfile
from agents.realtime import RealtimeSession
from tests.fakes.realtime_server import RealtimeFake, silence_ulaw, tone_ulaw

FRAME = 160


@pytest.fixture
def fake():
    """A running fake Realtime server."""
    with RealtimeFake() as server:
        yield server


@pytest.fixture
def make_session(fake):
    """Build and connect sessions against the fake; all closed at teardown."""
    sessions = []

    def make(profile: AgentProfile | None = None, **settings) -> RealtimeSession:
        config = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.http_base_url, **settings}
        session = RealtimeSession(profile or AgentProfile(), config)
        sessions.append(session)
        session.connect()
        return session

    yield make
    for session in sessions:
        session.close()


def speak(session, speech_ms: int = 400, silence_ms: int = 700) -> None:
    """Feed the session a caller utterance (tone) followed by silence, frame by frame."""
    audio = tone_ulaw(speech_ms) + silence_ulaw(silence_ms)
    for start in range(0, len(audio), FRAME):
        session.send_audio(audio[start:start + FRAME])


def pull_until(session, predicate, timeout: float = 10.0) -> list:
    """Events up to and including the first one matching `predicate` (fails on timeout)."""
    seen = []
    while True:
        event = session.next_event(timeout=timeout)
        assert event is not None, f"timed out; saw {[type(e).__name__ for e in seen]}"
        seen.append(event)
        if predicate(event):
            return seen
