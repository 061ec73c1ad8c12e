"""The fake answers like the GA API, errors included, when driven by the raw openai SDK."""
from __future__ import annotations

import base64

import pytest
from openai import OpenAI
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.fakes.realtime_server import silence_ulaw, tone_ulaw

PCMU = {"type": "audio/pcmu"}
GA_SESSION = {"type": "realtime", "audio": {
    "input": {"format": PCMU, "turn_detection": {"type": "server_vad"}},
    "output": {"format": PCMU, "voice": "marin"}}}


@pytest.fixture
def conn(fake):
    """A raw SDK connection with a GA pcmu session configured."""
    client = OpenAI(api_key="sk-test", websocket_base_url=fake.ws_base_url)
    with client.realtime.connect(model="gpt-realtime") as connection:
        assert connection.recv().type == "session.created"
        connection.session.update(session=GA_SESSION)
        assert connection.recv().type == "session.updated"
        yield connection


def next_of(connection, etype: str):
    """Receive until an event of type `etype`."""
    while True:
        event = connection.recv()
        if event.type == etype:
            return event


def test_beta_shape_session_is_rejected(conn):
    conn.send({"type": "session.update", "session": {"input_audio_format": "g711_ulaw"}})
    error = next_of(conn, "error").error
    assert (error.code, error.param) == ("missing_required_parameter", "session.type")
    conn.send({"type": "session.update",
               "session": {"type": "realtime", "input_audio_format": "g711_ulaw"}})
    error = next_of(conn, "error").error
    assert (error.code, error.param) == ("unknown_parameter", "session.input_audio_format")


def test_pcmu_with_rate_is_an_unknown_parameter(conn):
    conn.session.update(session={"type": "realtime", "audio": {
        "input": {"format": {"type": "audio/pcmu", "rate": 8000}}}})
    assert next_of(conn, "error").error.param == "session.audio.input.format.rate"


def test_beta_header_gets_beta_api_shape_disabled_and_close_4000(fake):
    client = OpenAI(api_key="sk-test", websocket_base_url=fake.ws_base_url)
    with client.beta.realtime.connect(model="gpt-realtime") as beta:
        assert beta.recv().error.code == "beta_api_shape_disabled"
        with pytest.raises(ConnectionClosed) as closed:
            beta.recv()
    assert closed.value.rcvd.code == 4000


def test_missing_api_key_is_refused_at_handshake(fake):
    client = OpenAI(api_key="not-a-key", websocket_base_url=fake.ws_base_url)
    with pytest.raises(InvalidStatus) as refused:
        client.realtime.connect(model="gpt-realtime").enter()
    assert refused.value.response.status_code == 401


def test_truncation_errors_match_the_api(fake, conn):
    audio = tone_ulaw(300) + silence_ulaw(600)
    conn.input_audio_buffer.append(audio=base64.b64encode(audio).decode())
    item = next_of(conn, "response.output_audio.delta").item_id
    next_of(conn, "response.done")
    conn.conversation.item.truncate(item_id=item, content_index=0, audio_end_ms=57340)
    error = next_of(conn, "error").error
    assert (error.code, error.message) == (
        "invalid_value", "Audio content of 1000ms is already shorter than 57340ms")
    conn.conversation.item.truncate(item_id="item_missing", content_index=0, audio_end_ms=1)
    assert next_of(conn, "error").error.code == "item_truncate_invalid_item_id"
    user_item = fake.sent("input_audio_buffer.committed")[0]["item_id"]
    conn.conversation.item.truncate(item_id=user_item, content_index=0, audio_end_ms=1)
    assert next_of(conn, "error").error.code == "unsupported_content_type"
    conn.conversation.item.truncate(item_id=item, content_index=0, audio_end_ms=250)
    assert next_of(conn, "conversation.item.truncated").audio_end_ms == 250


def test_harmless_error_codes(conn):
    conn.response.cancel()
    assert next_of(conn, "error").error.code == "response_cancel_not_active"
    conn.input_audio_buffer.commit()
    assert next_of(conn, "error").error.code == "input_audio_buffer_commit_empty"
    conn.response.create()
    conn.response.create()
    assert next_of(conn, "error").error.code == "conversation_already_has_active_response"
    assert next_of(conn, "response.done").response.status == "completed"


def test_unknown_event_type_and_missing_field(conn):
    conn.send({"type": "response.audio.delta"})  # a server event name, and a beta one
    assert next_of(conn, "error").error.code == "invalid_value"
    conn.send({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0})
    error = next_of(conn, "error").error
    assert (error.code, error.param) == ("missing_required_parameter", "audio_end_ms")


def test_forced_function_call_shape(fake, conn):
    fake.force_function_call("end_call", {})
    conn.response.create()
    done = next_of(conn, "response.function_call_arguments.done")
    assert (done.name, done.arguments) == ("end_call", "{}")
    response = next_of(conn, "response.done").response
    assert response.output[0].type == "function_call"


@pytest.mark.parametrize("session,param", [
    ({"type": "realtime", "temperature": 0.8}, "session.temperature"),
    ({"type": "realtime", "audio": {"input": {"turn_detection": {
        "type": "semantic_vad", "silence_duration_ms": 500}}}},
     "session.audio.input.turn_detection.silence_duration_ms"),
])
def test_fields_ga_does_not_have_are_unknown_parameters(conn, session, param):
    conn.send({"type": "session.update", "session": session})
    error = next_of(conn, "error").error
    assert (error.code, error.param) == ("unknown_parameter", param)
