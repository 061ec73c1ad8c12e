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
