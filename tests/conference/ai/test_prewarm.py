"""The AI Voice URL pre-warms a Realtime session (keyed by CallSid) without waiting for it."""
from __future__ import annotations

import threading
from xml.etree import ElementTree

import pytest

from agents import registry
from agents.echo import EchoSession
from agents.realtime import RealtimeSession
from agents.realtime.prewarm import POOL
from conference.ai import prewarm
from tests.fakes.realtime_server import RealtimeFake
from tests.support.twilio_requests import ai_to


@pytest.fixture
def spawned(monkeypatch):
    """The pre-warm threads the webhook started (so a test can wait for them)."""
    threads: list[threading.Thread | None] = []
    original = prewarm.maybe_start

    def recording(*args):
        threads.append(original(*args))
        return threads[-1]

    monkeypatch.setattr(prewarm, "maybe_start", recording)
    return threads


def answer(twilio, call_sid: str, custom: dict):
    r = twilio.post("/twilio/ai/voice", {"CallSid": call_sid, **custom})
    assert r.status_code == 200
    assert ElementTree.fromstring(r.data).find("./Connect/Stream") is not None
    return r


def test_realtime_session_is_opened_while_the_webhook_answers(twilio_app, twilio, api,
                                                              fake_twilio, spawned):
    with RealtimeFake() as fake:
        twilio_app.config.update(AI_BACKEND="realtime", OPENAI_API_KEY="sk-test",
                                 OPENAI_BASE_URL=fake.http_base_url)
        api.put("/agents/default", {"instructions": "Talk like a ship's purser."})
        call_sid, custom = ai_to(api, fake_twilio)
        answer(twilio, call_sid, custom)
        assert fake.wait_for(lambda: fake.received("session.update"))
        session = POOL.claim(call_sid)
        try:
            assert isinstance(session, RealtimeSession)
            update = fake.received("session.update")[0]["session"]
            assert "ship's purser" in update["instructions"]
            assert len(fake.connections) == 1
        finally:
            session.close()


def test_the_webhook_does_not_wait_for_the_prewarm(twilio_app, twilio, api, fake_twilio,
                                                   spawned, monkeypatch):
    release, built = threading.Event(), threading.Event()
    profiles = []

    def slow_backend(profile, settings):
        profiles.append(profile.name)
        release.wait(30)
        built.set()
        return EchoSession(profile, settings)

    monkeypatch.setitem(registry._registered, "realtime", slow_backend)
    twilio_app.config["AI_BACKEND"] = "realtime"
    call_sid, custom = ai_to(api, fake_twilio)
    answer(twilio, call_sid, custom)
    assert not built.is_set()  # the TwiML went back while the backend was still being built
    release.set()
    spawned[0].join(30)
    session = POOL.claim(call_sid)
    assert isinstance(session, EchoSession) and profiles == ["default"]
    session.close()


def test_a_failing_prewarm_never_fails_the_webhook(twilio_app, twilio, api, fake_twilio,
                                                   spawned, monkeypatch):
    def broken(profile, settings):
        raise RuntimeError("backend unavailable")

    monkeypatch.setitem(registry._registered, "realtime", broken)
    twilio_app.config["AI_BACKEND"] = "realtime"
    call_sid, custom = ai_to(api, fake_twilio)
    answer(twilio, call_sid, custom)
    spawned[0].join(30)
    assert not spawned[0].is_alive() and POOL.claim(call_sid) is None


def test_only_a_realtime_profile_is_prewarmed(twilio_app, twilio, api, fake_twilio, spawned,
                                              monkeypatch):
    monkeypatch.setitem(registry._registered, "realtime", EchoSession)
    call_sid, custom = ai_to(api, fake_twilio)  # AI_BACKEND is echo in tests
    answer(twilio, call_sid, custom)
    assert spawned == [None] and POOL.claim(call_sid) is None

    # A profile that asks for realtime is pre-warmed whatever AI_BACKEND says.
    api.delete("/conferences/room/ai")
    api.put("/agents/fast", {"instructions": "Be quick.", "backend": "realtime"})
    r = api.put("/conferences/room/ai", {"agent": "fast", "mode": "speak"})
    assert r.status_code == 201
    answer(twilio, r.json["call_sid"], {**custom, "agent": "fast"})
    spawned[-1].join(30)
    session = POOL.claim(r.json["call_sid"])
    assert isinstance(session, EchoSession) and session.profile.name == "fast"
    session.close()
