"""Fixtures for pipeline tests: the fake OpenAI HTTP server and helpers to drive a session."""
from __future__ import annotations

import pytest

from agents import audio, speech
from tests.fakes.openai_http import FakeOpenAI


@pytest.fixture
def openai_fake():
    """A running fake OpenAI HTTP API."""
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(openai_fake):
    """Session settings pointing the real SDK at the fake."""
    return {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": openai_fake.url,
            "OPENAI_TIMEOUT_S": 5.0}


@pytest.fixture(scope="session")
def question_ulaw():
    """A spoken question (espeak-ng) followed by a second of silence."""
    return speech.synthesize_ulaw("What are your opening hours?") + audio.ULAW_SILENCE * 8000


def speak(session, ulaw: bytes) -> None:
    """Feed audio in 20 ms frames, as the media plane does."""
    for frame in audio.split_frames(ulaw):
        session.send_audio(frame)


def pull_until(session, kind, timeout: float = 20.0) -> list:
    """Events up to and including the first of type `kind`; fails on a stalled stream."""
    events = []
    while True:
        event = session.next_event(timeout=timeout)
        assert event is not None, f"no {kind.__name__} after {[type(e).__name__ for e in events]}"
        events.append(event)
        if isinstance(event, kind):
            return events
