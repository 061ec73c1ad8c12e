"""The sans-I/O Realtime core, driven with hand-written server events (no sockets)."""
from __future__ import annotations

import base64
import json

from agents.base import AgentFailure, AgentProfile, AudioOut, ResponseDone, ToolCall, Transcript
from agents.realtime.protocol import RealtimeProtocol
from tests.fakes.realtime_schema import check_client_event
from tests.support.realtime_events import delta, ready


def done(rid: str, status: str = "completed") -> dict:
    """response.done for `rid`."""
    return {"type": "response.done", "response": {"id": rid, "status": status}}


def call(rid: str, name: str, arguments: str) -> dict:
    """response.function_call_arguments.done."""
    return {"type": "response.function_call_arguments.done", "response_id": rid,
            "call_id": "call_1", "name": name, "arguments": arguments}


def test_session_update_is_valid_ga_pcmu_with_profile():
    profile = AgentProfile(instructions="Be nice.", voice="marin", tools=("end_call", "lookup"))
    step = RealtimeProtocol(profile).on_event({"type": "session.created", "session": {}})
    (update,) = step.sends
    assert check_client_event(update) is None
    session = update["session"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "marin"}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["instructions"] == "Be nice."
    assert [t["name"] for t in session["tools"]] == ["end_call", "lookup"]


def test_non_realtime_voice_falls_back():
    step = RealtimeProtocol(AgentProfile(voice="onyx")).on_event({"type": "session.created"})
    assert step.sends[0]["session"]["audio"]["output"]["voice"] == "alloy"


def test_greeting_only_on_first_session_and_ready_after_update():
    proto = RealtimeProtocol(AgentProfile(greeting="Welcome to Acme."))
    first = ready(proto)
    assert first.ready
    assert "Welcome to Acme." in first.sends[0]["response"]["instructions"]
    assert not [s for s in ready(proto).sends if s["type"] == "response.create"]


def test_pcm16_echo_is_a_fatal_format_mismatch():
    proto = RealtimeProtocol(AgentProfile())
    proto.on_event({"type": "session.created"})
    step = proto.on_event({"type": "session.updated", "session": {"audio": {
        "input": {"format": {"type": "audio/pcm", "rate": 24000}},
        "output": {"format": {"type": "audio/pcmu"}}}}})
    assert not step.ready
    assert step.events == [AgentFailure("format_mismatch", step.events[0].message, True)]


def test_audio_passthrough_and_truncate_caps_at_generated():
    proto = RealtimeProtocol(AgentProfile())
    ready(proto)
    proto.on_event({"type": "response.created", "response": {"id": "r1"}})
    out = proto.on_event(delta("r1", "i1", 800)).events  # 100 ms
    assert out == [AudioOut("i1", b"\x7f" * 800)]
    proto.on_event(delta("r1", "i1", 400))
    sends = proto.truncate(heard_ms=5000)  # no stop() before: the truncate cancels too
    assert sends == [{"type": "response.cancel"},
                     {"type": "conversation.item.truncate", "item_id": "i1",
                      "content_index": 0, "audio_end_ms": 150}]
    assert proto.truncate(heard_ms=40, item_id="i1") == [
        {"type": "conversation.item.truncate", "item_id": "i1", "content_index": 0,
         "audio_end_ms": 40}]  # cancelled once only


def test_late_audio_of_an_interrupted_response_is_dropped():
    proto = RealtimeProtocol(AgentProfile())
    ready(proto)
    proto.on_event({"type": "response.created", "response": {"id": "r1"}})
    proto.on_event(delta("r1", "i1", 160))
    assert proto.stop() == [{"type": "response.cancel"}]
    assert proto.on_event(delta("r1", "i1", 160)).events == []
    assert proto.on_event(done("r1", "cancelled")).events == [ResponseDone("i1", "cancelled")]
    assert proto.active_response is None


def test_truncate_without_audio_sends_nothing():
    proto = RealtimeProtocol(AgentProfile())
    ready(proto)
    assert proto.stop() == []  # no active response: nothing to cancel
    assert proto.truncate(heard_ms=300) == []
    assert proto.truncate(heard_ms=300, item_id="unknown") == []


def test_stop_cancels_at_once_and_the_later_truncate_only_truncates():
    proto = RealtimeProtocol(AgentProfile())
    ready(proto)
    proto.on_event({"type": "response.created", "response": {"id": "r1"}})
    proto.on_event(delta("r1", "i1", 1600))  # 200 ms
    assert proto.stop() == [{"type": "response.cancel"}]
    assert proto.stop() == []  # a second barge-in before the first settled
    proto.on_event(delta("r1", "i1", 800))  # late audio of the cancelled response
    assert proto.truncate(heard_ms=190, item_id="i1") == [
        {"type": "conversation.item.truncate", "item_id": "i1", "content_index": 0,
         "audio_end_ms": 190}]


def test_a_late_truncate_never_cancels_the_next_response():
    proto = RealtimeProtocol(AgentProfile())
    ready(proto)
    proto.on_event({"type": "response.created", "response": {"id": "r1"}})
    proto.on_event(delta("r1", "i1", 1600))
    proto.stop()
    proto.on_event(done("r1", "cancelled"))
    proto.on_event({"type": "response.created", "response": {"id": "r2"}})  # the AI answers
    proto.on_event(delta("r2", "i2", 800))
    assert [s["type"] for s in proto.truncate(heard_ms=120, item_id="i1")] == [
        "conversation.item.truncate"]
    assert proto.on_event(delta("r2", "i2", 800)).events  # r2 still speaks


def test_valid_tool_call_is_emitted_after_completed_response():
    proto = RealtimeProtocol(AgentProfile(tools=("transfer_to_human",)))
    ready(proto)
    assert proto.on_event(call("r1", "transfer_to_human", '{"reason": "billing"}')).events == []
    step = proto.on_event(done("r1"))
    assert step.events[0] == ToolCall("call_1", "transfer_to_human", {"reason": "billing"})
    assert step.sends == []


def test_invalid_tool_calls_get_an_error_and_no_toolcall():
    proto = RealtimeProtocol(AgentProfile(tools=("transfer_to_human",)))
    ready(proto)
    for name, raw in [("transfer_to_human", "{}"), ("transfer_to_human", "not json"),
                      ("transfer_to_human", '{"reason": "x", "extra": 1}'),
                      ("end_call", "{}")]:  # end_call is not in this profile
        proto.on_event(call("r1", name, raw))
        step = proto.on_event(done("r1"))
        assert not [e for e in step.events if isinstance(e, ToolCall)]
        output, create = step.sends
        assert check_client_event(output) is None
        assert json.loads(output["item"]["output"])["ok"] is False
        assert create == {"type": "response.create"}


def test_tool_call_of_cancelled_response_is_dropped():
    proto = RealtimeProtocol(AgentProfile(tools=("end_call",)))
    ready(proto)
    proto.on_event(call("r1", "end_call", "{}"))
    step = proto.on_event(done("r1", "cancelled"))
    assert step.sends == [] and not [e for e in step.events if isinstance(e, ToolCall)]


def test_harmless_errors_are_swallowed_others_reported_expiry_reconnects():
    proto = RealtimeProtocol(AgentProfile())
    for code in ("response_cancel_not_active", "input_audio_buffer_commit_empty",
                 "conversation_already_has_active_response"):
        assert proto.on_event({"type": "error", "error": {"code": code}}).events == []
    assert proto.harmless_errors == 3
    step = proto.on_event({"type": "error", "error": {"code": "invalid_value", "message": "m"}})
    assert step.events == [AgentFailure("invalid_value", "m", False)]
    assert proto.on_event({"type": "error", "error": {"code": "session_expired"}}).reconnect


def test_reconnect_replays_turns_and_unanswered_audio_only():
    proto = RealtimeProtocol(AgentProfile(greeting="Hi"))
    ready(proto)
    proto.audio_sent(b"\x01" * 800)  # 100 ms, answered below
    proto.on_event({"type": "conversation.item.input_audio_transcription.completed",
                    "item_id": "u1", "transcript": "Are you open?"})
    proto.on_event({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 100})
    proto.on_event({"type": "response.created", "response": {"id": "r1"}})
    ai = proto.on_event({"type": "response.output_audio_transcript.done", "item_id": "a1",
                         "transcript": "Yes, until five."})
    assert ai.events == [Transcript("ai", "Yes, until five.", True, "a1")]
    proto.on_event(done("r1"))
    proto.audio_sent(b"\x02" * 480)  # 60 ms the model has not answered yet
    step = ready(proto)
    texts = [s["item"]["content"][0]["text"] for s in step.sends
             if s["type"] == "conversation.item.create"]
    assert texts == ["Are you open?", "Yes, until five."]
    (append,) = [s for s in step.sends if s["type"] == "input_audio_buffer.append"]
    assert base64.b64decode(append["audio"]) == b"\x02" * 480
    assert all(check_client_event(s) is None for s in step.sends)
    assert step.ready and not [s for s in step.sends if s["type"] == "response.create"]


def test_replay_ring_is_bounded():
    proto = RealtimeProtocol(AgentProfile(), replay_ms=100)
    ready(proto)
    proto.audio_sent(b"\x01" * 800 + b"\x02" * 800)
    (append,) = [s for s in ready(proto).sends if s["type"] == "input_audio_buffer.append"]
    assert base64.b64decode(append["audio"]) == b"\x02" * 800
