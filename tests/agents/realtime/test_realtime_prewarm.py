"""Pre-warming: the socket opens before the AI leg connects, and is handed over intact."""
from __future__ import annotations

from agents.base import AgentProfile, ResponseDone
from agents.realtime import RealtimeSession
from agents.realtime.prewarm import PrewarmPool
from tests.support.sessions import pull_until, speak, utterance


def test_prewarmed_session_is_connected_before_the_claim(fake):
    pool = PrewarmPool()
    settings = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.http_base_url}
    made = pool.prewarm("CA1", lambda: RealtimeSession(AgentProfile(), settings))
    assert fake.wait_for(lambda: fake.received("session.update"))  # configured while ringing
    session = pool.claim("CA1")
    assert session is made and pool.claim("CA1") is None
    session.connect()  # the claimer's connect is a no-op now
    speak(session, utterance())
    assert pull_until(session, lambda e: isinstance(e, ResponseDone))[-1].status == "completed"
    assert len(fake.connections) == 1
    session.close()


def test_unclaimed_sessions_are_closed_after_ttl(fake):
    pool = PrewarmPool(ttl_s=5)
    settings = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.http_base_url}
    session = pool.prewarm("CA2", lambda: RealtimeSession(AgentProfile(), settings), now=100.0)
    assert fake.wait_for(lambda: fake.received("session.update"))
    assert pool.sweep(now=104.0) == 0
    assert pool.sweep(now=105.0) == 1
    assert pool.claim("CA2") is None
    assert session.next_event(timeout=5) is None  # closed
    assert fake.wait_for(lambda: fake.active_connections == 0)


def test_prewarm_failure_is_retried_by_the_claimer(fake):
    pool = PrewarmPool()
    settings = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    session = pool.prewarm("CA3", lambda: RealtimeSession(AgentProfile(), settings))
    claimed = pool.claim("CA3")
    assert claimed is session
    settings["OPENAI_BASE_URL"] = fake.http_base_url  # the backend is reachable again
    claimed.connect()
    speak(claimed, utterance())
    assert pull_until(claimed, lambda e: isinstance(e, ResponseDone))[-1].status == "completed"
    claimed.close()
