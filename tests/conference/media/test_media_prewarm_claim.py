"""The AI leg's LiveCall claims a session pre-warmed for its CallSid before creating one."""
from __future__ import annotations

from agents.base import AgentProfile
from agents.echo import EchoSession
from agents.realtime.prewarm import POOL
from conference.media.live_call import LiveCall
from conference.media.registry import get_plane

INFO = {"tenant": "1", "conference": "room", "agent": "default"}


def test_a_prewarmed_session_is_claimed_instead_of_a_new_one(app):
    plane = get_plane(app)
    warm = EchoSession(AgentProfile(name="prewarmed"), {})
    POOL.prewarm("CA" + "7" * 32, lambda: warm)
    live = LiveCall(plane, "CA" + "7" * 32, INFO)
    try:
        assert live._connect()
        assert live.session is warm and live.ready
        assert POOL.claim("CA" + "7" * 32) is None  # taken, not left to expire
        live.session.send_audio(b"\x01" * 160)  # the claimed session is the one in use
        # ... and its answer, announced, went straight to the playout queue.
        assert [bytes(data) for _, data in live.tracker.pending] == [b"\x01" * 160]
    finally:
        live.shutdown()


def test_without_a_prewarmed_session_one_is_created(app):
    plane = get_plane(app)
    POOL.prewarm("CA" + "8" * 32, lambda: EchoSession(AgentProfile(name="someone else's"), {}))
    live = LiveCall(plane, "CA" + "9" * 32, INFO)
    try:
        assert live._connect()
        assert isinstance(live.session, EchoSession)
        assert live.session.profile.name != "someone else's"
        assert POOL.claim("CA" + "8" * 32) is not None  # another call's session is untouched
    finally:
        live.shutdown()


def test_the_profile_backend_wins_over_the_deployment_default(app):
    """A profile that names a backend gets it, whatever AI_BACKEND says."""
    app.config["AI_BACKEND"] = "no-such-backend"
    app.extensions["agent_profile_loader"] = lambda tenant, name: AgentProfile(
        name=name, backend="echo")
    live = LiveCall(get_plane(app), "CA" + "6" * 32, INFO)
    try:
        assert live._connect()
        assert isinstance(live.session, EchoSession)
        assert live.session.profile.backend == "echo"
    finally:
        live.shutdown()
