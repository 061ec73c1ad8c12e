"""Fixtures: a Realtime fake and sessions connected to it through the real openai SDK."""
from __future__ import annotations

import pytest

from agents.base import AgentProfile
from agents.realtime import RealtimeSession
from tests.fakes.realtime_server import RealtimeFake


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
