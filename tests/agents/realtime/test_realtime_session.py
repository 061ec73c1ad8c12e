"""RealtimeSession against the fake Realtime server, through the real openai SDK."""
from __future__ import annotations

import base64
import json

import pytest

from agents.base import (
    AgentError,
    AgentFailure,
    AgentProfile,
    AudioOut,
    ResponseDone,
    SpeechStarted,
    ToolCall,
    Transcript,
)
from agents.realtime import RealtimeSession
from tests.fakes.realtime_server import tone_ulaw
from tests.support.sessions import pull_until, speak, utterance


def is_done(event) -> bool:
    """A ResponseDone event."""
    return isinstance(event, ResponseDone)


def test_ai_greets_then_answers_speech(fake, make_session):
    session = make_session(AgentProfile(greeting="Thanks for calling Acme."))
    greeting = pull_until(session, is_done)
    audio = b"".join(e.ulaw for e in greeting if isinstance(e, AudioOut))
    assert audio == fake.reply_audio  # mu-law passes through untouched
    speak(session, utterance())
    turn = pull_until(session, is_done)
    kinds = [type(e).__name__ for e in turn]
    assert kinds[:2] == ["SpeechStarted", "SpeechStopped"]
    assert Transcript("caller", fake.caller_transcript, True, turn[2].item_id) in turn
    assert any(isinstance(e, AudioOut) for e in turn) and turn[-1].status == "completed"
    (update,) = fake.received("session.update")
    assert update["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert fake.connections[0]["path"] == "/v1/realtime?model=gpt-realtime"
    assert not fake.sent("error")


def test_websocket_base_url_and_model_are_honoured(fake, make_session):
    session = make_session(OPENAI_BASE_URL="http://127.0.0.1:9/v1",
                           OPENAI_WEBSOCKET_BASE_URL=fake.ws_base_url,
                           OPENAI_REALTIME_MODEL="gpt-realtime-mini")
    speak(session, utterance())
    pull_until(session, is_done)
    assert fake.connections[0]["path"] == "/v1/realtime?model=gpt-realtime-mini"


def test_audio_sent_before_the_session_is_ready_is_held_not_lost(fake):
    session = RealtimeSession(AgentProfile(), {"OPENAI_API_KEY": "sk-test",
                                               "OPENAI_BASE_URL": fake.http_base_url})
    speak(session, utterance())  # queued before connect(): the pre-warm case
    session.connect()
    try:
        pull_until(session, is_done)
        types = [e["type"] for e in fake.events_received]
        assert types.index("session.update") < types.index("input_audio_buffer.append")
    finally:
        session.close()


def test_barge_in_truncates_at_heard_position(fake, make_session):
    fake.delta_interval_s = 0.05  # 100 ms chunks every 50 ms: still talking when we interrupt
    session = make_session()
    speak(session, utterance())
    events = pull_until(session, lambda e: isinstance(e, AudioOut))
    item = events[-1].item_id
    pull_until(session, lambda e: isinstance(e, AudioOut))  # 200 ms generated so far
    session.stop_response()
    session.truncate(heard_ms=130, item_id=item)
    rest = pull_until(session, is_done)
    assert rest[-1] == ResponseDone(item, "cancelled")
    assert fake.wait_for(lambda: fake.truncations)
    assert fake.truncations == [(item, 130)]
    assert fake.received("response.cancel")
    assert not fake.sent("error")


def test_barge_in_beyond_generated_audio_is_capped(fake, make_session):
    session = make_session()
    speak(session, utterance())
    done = pull_until(session, is_done)
    generated = sum(len(e.ulaw) for e in done if isinstance(e, AudioOut)) // 8
    session.stop_response()  # nothing active: nothing sent
    session.truncate(heard_ms=generated + 5000, item_id=done[-1].item_id)
    assert fake.wait_for(lambda: fake.truncations)
    assert fake.truncations == [(done[-1].item_id, generated)]
    assert not fake.sent("error")


def test_caller_speech_during_reply_is_reported_for_barge_in(fake, make_session):
    fake.delta_interval_s = 0.05
    session = make_session()
    speak(session, utterance())
    pull_until(session, lambda e: isinstance(e, AudioOut))
    speak(session, utterance(silence_ms=0))
    events = pull_until(session, lambda e: isinstance(e, SpeechStarted))
    assert events[-1].speaker == "caller"


@pytest.mark.parametrize("code", [1011, 1012, 1006, "expire"])
def test_socket_killed_mid_call_reconnects_and_conversation_continues(fake, make_session, code):
    session = make_session(AgentProfile(greeting="Hello."))
    pull_until(session, is_done)
    speak(session, utterance())
    pull_until(session, lambda e: isinstance(e, Transcript) and e.speaker == "ai" and e.final)
    pull_until(session, is_done)
    if code == "expire":
        assert fake.expire_active() == 1
    else:
        assert fake.kill_active(code=code) == 1
    assert fake.wait_for(lambda: len(fake.received("session.update")) == 2)
    speak(session, utterance())
    turn = pull_until(session, is_done)
    assert any(isinstance(e, AudioOut) for e in turn) and turn[-1].status == "completed"
    assert session.reconnects == 1 and len(fake.connections) == 2
    replayed = [e["item"]["content"][0]["text"] for e in fake.received("conversation.item.create")]
    assert replayed == ["Hello, how can I help you today?", fake.caller_transcript,
                        "Hello, how can I help you today?"]
    assert not [e for e in turn if isinstance(e, AgentFailure)]


def appended(record: dict) -> bytes:
    """All caller audio one fake connection received."""
    return b"".join(base64.b64decode(e["audio"]) for e in record["events"]
                    if e["type"] == "input_audio_buffer.append")


def test_unanswered_caller_audio_is_replayed_after_a_drop(fake, make_session):
    session = make_session()
    tone = tone_ulaw(400)
    for start in range(0, len(tone), 160):
        session.send_audio(tone[start:start + 160])
    assert fake.wait_for(lambda: len(appended(fake.connections[0])) == len(tone))
    fake.kill_active(code=1011)
    assert fake.wait_for(lambda: len(fake.connections) == 2
                         and len(appended(fake.connections[1])) >= len(tone))
    assert appended(fake.connections[1]) == tone  # replayed before any new audio
    speak(session, utterance(speech_ms=0))  # the caller only goes quiet: no repeat needed
    turn = pull_until(session, is_done)
    assert turn[-1].status == "completed" and any(isinstance(e, AudioOut) for e in turn)


def test_invalid_tool_arguments_get_a_tool_error_and_nothing_happens(fake, make_session):
    session = make_session(AgentProfile(tools=("transfer_to_human",)))
    fake.force_function_call("transfer_to_human", {"reason": 42})
    speak(session, utterance())
    first = pull_until(session, is_done)
    assert not [e for e in first if isinstance(e, ToolCall)]
    assert fake.wait_for(lambda: fake.received("conversation.item.create"))
    (output,) = fake.received("conversation.item.create")
    assert output["item"]["type"] == "function_call_output"
    assert json.loads(output["item"]["output"])["ok"] is False
    follow_up = pull_until(session, is_done)  # the model speaks about the error
    assert any(isinstance(e, AudioOut) for e in follow_up)
    assert not fake.sent("error")


def test_valid_tool_call_round_trip(fake, make_session):
    session = make_session(AgentProfile(tools=("lookup",)))
    fake.force_function_call("lookup", {"query": "order 42"})
    speak(session, utterance())
    events = pull_until(session, lambda e: isinstance(e, ToolCall))
    call = events[-1]
    assert (call.name, call.arguments) == ("lookup", {"query": "order 42"})
    assert pull_until(session, is_done)[-1].item_id is None  # the function-call response
    session.send_tool_result(call.call_id, {"ok": True, "status": "shipped"})
    follow_up = pull_until(session, is_done)
    assert any(isinstance(e, AudioOut) for e in follow_up)
    (output,) = fake.received("conversation.item.create")
    assert output["item"]["call_id"] == call.call_id


def test_harmless_errors_do_not_hang_up(fake, make_session):
    session = make_session()
    speak(session, utterance())
    done = pull_until(session, is_done)
    session.send_tool_result("call_x", {"ok": True})
    session.send_tool_result("call_y", {"ok": True})  # second response.create races the first
    session._queue_control([{"type": "response.cancel"}])
    assert fake.wait_for(lambda: len(fake.sent("error")) >= 1)
    codes = {e["error"]["code"] for e in fake.sent("error")}
    assert codes <= {"conversation_already_has_active_response", "response_cancel_not_active"}
    speak(session, utterance())
    turn = pull_until(session, lambda e: isinstance(e, SpeechStarted))
    assert not [e for e in turn if isinstance(e, AgentFailure) and e.fatal]
    assert done[-1].status == "completed"


def test_real_api_errors_become_nonfatal_failures(fake, make_session):
    session = make_session()
    session._queue_control([{"type": "conversation.item.truncate", "item_id": "item_nope",
                             "content_index": 0, "audio_end_ms": 10}])
    failure = pull_until(session, lambda e: isinstance(e, AgentFailure))[-1]
    assert (failure.code, failure.fatal) == ("item_truncate_invalid_item_id", False)
    speak(session, utterance())
    assert pull_until(session, is_done)[-1].status == "completed"


def test_missing_key_and_unreachable_backend_raise_agent_error():
    with pytest.raises(AgentError) as missing:
        RealtimeSession(AgentProfile(), {}).connect()
    assert missing.value.code == "no_api_key"
    session = RealtimeSession(AgentProfile(), {"OPENAI_API_KEY": "sk-x",
                                               "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    with pytest.raises(AgentError) as refused:
        session.connect()
    assert refused.value.code == "connect_failed"
    session.close()


def test_close_is_idempotent_and_ends_the_event_stream(make_session):
    session = make_session()
    session.close()
    session.close()
    assert session.next_event(timeout=1) is None
    with pytest.raises(AgentError):
        session.connect()
