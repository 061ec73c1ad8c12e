"""A ToolCall from the backend runs through the live AI leg; its answer reaches the model."""
from __future__ import annotations

import threading

from media_harness import ai_leg_in_room

from agents.base import AgentProfile, ToolCall
from agents.echo import EchoSession
from conference.media import ports
from conference.media.live_call import LiveCall
from conference.media.registry import get_plane
from twilio_sim.testing import wait_for

CALL = "CA" + "6" * 32


def test_a_tool_call_is_recorded_answered_and_spoken(media_server):
    server = media_server(AI_BACKEND="toolcaller")
    client = ai_leg_in_room(server, CALL, 10)
    # No such tool: the handler records the rejection, and the model hears why.
    records = wait_for(lambda: server.rows(
        "SELECT call_id, name, status, call_sid, conference_id FROM tool_call"
        " WHERE status != 'pending'"))
    assert [tuple(r) for r in records] == [("call-7", "format_disk", "rejected", CALL, 1)]
    lines = wait_for(lambda: server.rows("SELECT speaker, text FROM transcript_entry"))
    assert len(lines) == 1 and lines[0][0] == "ai"
    assert lines[0][1].startswith("call-7: ") and "format_disk" in lines[0][1]
    assert wait_for(lambda: client.playout_frame() == b"\x21" * 160)
    client.stop()
    assert server.alive()


class Asker(EchoSession):
    """Emits one ToolCall on connect and keeps what comes back."""

    def __init__(self, profile, settings) -> None:
        super().__init__(profile, settings)
        self.results: list[tuple[str, dict]] = []
        self.answered = threading.Event()

    def connect(self) -> None:
        super().connect()
        self._events.put(ToolCall("call-1", "lookup", {"query": "x"}))

    def send_tool_result(self, call_id: str, output: dict) -> None:
        self.results.append((call_id, output))
        self.answered.set()


def test_without_a_tool_handler_the_model_hears_an_error(app):
    app.extensions.pop(ports.TOOL_HANDLER, None)
    asker = Asker(AgentProfile(), {})
    app.extensions[ports.PROFILE_LOADER] = lambda tenant, name: AgentProfile(name=name)
    live = LiveCall(get_plane(app), CALL, {"tenant": "1", "conference": "room"})
    live.session = asker  # the session the reader connects and reads
    live.start()
    try:
        assert asker.answered.wait(10)
    finally:
        live.shutdown()
    (call_id, output), = asker.results
    assert call_id == "call-1"
    assert output["ok"] is False and "no tool handler" in output["error"]
