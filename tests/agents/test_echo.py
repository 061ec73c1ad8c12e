"""Echo backend: what it hears comes back; stop_response closes the item; close wakes readers."""
from __future__ import annotations

from agents.base import AgentProfile, AgentSession, AudioOut, ResponseDone
from agents.registry import create_session


def test_echo_speaks_back_and_stop_starts_a_new_item():
    session = create_session("echo", AgentProfile(), {})
    assert isinstance(session, AgentSession)
    session.connect()
    session.send_audio(b"\x01" * 160)
    assert session.next_event(timeout=1) == AudioOut("echo-1", b"\x01" * 160)
    session.stop_response()
    assert session.next_event(timeout=1) == ResponseDone("echo-1", "cancelled")
    session.truncate(20, "echo-1")
    session.send_audio(b"\x02" * 160)
    assert session.next_event(timeout=1) == AudioOut("echo-2", b"\x02" * 160)
    assert session.interrupts == [(20, "echo-1")]
    assert session.next_event(timeout=0.01) is None


def test_close_unblocks_and_silences():
    session = create_session("echo", AgentProfile(), {})
    session.send_audio(b"\x01")  # before connect: not heard
    session.connect()
    session.close()
    session.send_audio(b"\x01")
    assert session.next_event(timeout=5) is None
    assert session.next_event(timeout=5) is None
    session.close()  # idempotent
