"""A LiveCall's backend events are announced (Outbox listener): no reader waits for the call."""
from __future__ import annotations

import threading

from agents.base import AgentProfile, AudioOut
from agents.echo import EchoSession
from agents.realtime.prewarm import POOL
from conference.media import metrics
from conference.media.live_call import LiveCall
from conference.media.registry import get_plane

INFO = {"tenant": "1", "conference": "room", "agent": "default"}


class BackgroundSession(EchoSession):
    """Echo whose extra audio comes from a thread of its own, as a real backend's reader."""

    def speak_from_a_thread(self, ulaw: bytes) -> None:
        thread = threading.Thread(target=self._events.put, args=(AudioOut("bg-1", ulaw),))
        thread.start()
        thread.join()  # the announcement ran in that thread before it ended


def _reader_of(call_sid: str) -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.name == f"agent-{call_sid}"), None)


def _join_reader(call_sid: str) -> None:
    """Wait for the call's reader (if one runs) to connect the session and end."""
    reader = _reader_of(call_sid)
    if reader is not None:
        reader.join(timeout=10)
        assert not reader.is_alive(), "the reader should end once the session announces"


def _started(app, call_sid: str, session: EchoSession) -> LiveCall:
    """A LiveCall on `session` whose connecting reader has come and gone."""
    POOL.prewarm(call_sid, lambda: session)
    live = LiveCall(get_plane(app), call_sid, INFO)
    live.start()
    _join_reader(call_sid)
    return live


def _failures(code: str) -> float:
    sample = metrics.REGISTRY.get_sample_value("forkline_media_backend_failures_total",
                                               {"code": code})
    return sample or 0.0


def test_once_connected_no_reader_is_left_and_events_still_reach_playout(app):
    call_sid = "CA" + "a1" * 16
    session = BackgroundSession(AgentProfile(name="bg"), {})
    live = _started(app, call_sid, session)
    try:
        assert live.ready and live.pushed and live.session is session
        assert not live._reading
        session.speak_from_a_thread(b"\x02" * 320)
        session.send_audio(b"\x03" * 160)  # a synchronous answer, announced inline
        assert [bytes(d) for _, d in live.tracker.pending] == [b"\x02" * 320, b"\x03" * 160]
    finally:
        live.shutdown()


def test_events_queued_before_anyone_listened_are_handled_at_connect(app):
    call_sid = "CA" + "b2" * 16
    session = EchoSession(AgentProfile(name="early"), {})
    session.connect()  # a pre-warmed session may have spoken before the call's socket came
    session.send_audio(b"\x04" * 160)
    live = _started(app, call_sid, session)
    try:
        assert [bytes(d) for _, d in live.tracker.pending] == [b"\x04" * 160]
    finally:
        live.shutdown()


def test_a_session_that_ends_by_itself_is_replaced_by_a_new_one(app):
    call_sid = "CA" + "c3" * 16
    first = EchoSession(AgentProfile(name="first"), {})
    live = _started(app, call_sid, first)
    before = _failures("session_closed")
    try:
        first._events.end()  # the backend closed its side (the Realtime reader does this)
        _join_reader(call_sid)  # reconnecting in a fresh reader, which ends once connected
        assert _failures("session_closed") == before + 1
        assert live.ready and live.pushed
        assert isinstance(live.session, EchoSession) and live.session is not first
        live.session.send_audio(b"\x05" * 160)  # the new session is heard and answers
        assert bytes(live.tracker.pending[-1][1]).endswith(b"\x05" * 160)
    finally:
        live.shutdown()


def test_closing_the_call_does_not_count_as_the_backend_ending(app):
    call_sid = "CA" + "d4" * 16
    session = EchoSession(AgentProfile(name="closing"), {})
    live = _started(app, call_sid, session)
    before = _failures("session_closed")
    live.shutdown()
    assert session.finished
    assert _failures("session_closed") == before
    assert _reader_of(call_sid) is None
