"""PipelineSession against the fake OpenAI HTTP API through the real openai SDK."""
from __future__ import annotations

import json
import math
import struct

import openai
import pytest
from prometheus_client import REGISTRY

from agents import audio, speech
from agents.base import (
    AgentFailure,
    AgentProfile,
    AudioOut,
    ResponseDone,
    ToolCall,
    Transcript,
)
from agents.pipeline import PipelineSession
from agents.pipeline.metrics import TurnMetrics
from tests.support.sessions import pull_until, speak
from twilio_sim.audio import tone_level_dbfs

PROFILE = AgentProfile(instructions="Be brief.", voice="coral", tools=("lookup",),
                       faq=(("When are you open?", "Nine to five."),))


def tone_24k(freq: float, ms: int) -> bytes:
    n = 24 * ms
    return struct.pack(f"<{n}h", *(int(9000 * math.sin(2 * math.pi * freq * i / 24000))
                                   for i in range(n)))


@pytest.fixture
def session(settings):
    session = PipelineSession(PROFILE, settings)
    session.connect()
    yield session
    session.close()


def stage_count(stage: str) -> float:
    labels = {"backend": "pipeline", "stage": stage}
    return REGISTRY.get_sample_value("forkline_agent_stage_seconds_count", labels) or 0.0


def test_turn_streams_through_all_three_stages(session, openai_fake, question_ulaw):
    openai_fake.transcripts = ["What are your opening hours?"]
    openai_fake.replies = [{"text": "We open at nine. We close at five."}]
    openai_fake.speech_pcm = tone_24k(1000, 500)
    before = stage_count("end_to_end")
    speak(session, question_ulaw)
    events = pull_until(session, TurnMetrics)

    caller = [e for e in events if isinstance(e, Transcript) and e.speaker == "caller"]
    assert [e.final for e in caller][-1] is True and not caller[0].final  # partials first
    assert caller[-1].text == "What are your opening hours?"
    ai = [e for e in events if isinstance(e, Transcript) and e.speaker == "ai"]
    assert ai[-1].text == "We open at nine. We close at five."
    ulaw = b"".join(e.ulaw for e in events if isinstance(e, AudioOut))
    # Two sentences -> two speech calls of 500 ms each, resampled to 8 kHz (+ frame padding).
    assert 980 <= audio.ulaw_ms(ulaw) <= 1060
    pcm = audio.ulaw_to_pcm16(ulaw)
    assert tone_level_dbfs(pcm, 1000) > tone_level_dbfs(pcm, 3000) + 20

    metrics = events[-1]
    assert metrics.backend == "pipeline"
    assert None not in (metrics.stt_ms, metrics.llm_first_token_ms,
                        metrics.tts_first_audio_ms, metrics.end_to_end_ms)
    assert stage_count("end_to_end") == before + 1

    (stt_body,) = openai_fake.requests_to("/v1/audio/transcriptions")
    assert stt_body["stream"] is True and audio.read_wav(stt_body["file"])[1] == 8000
    (chat_body,) = openai_fake.requests_to("/v1/chat/completions")
    assert chat_body["stream"] is True
    assert chat_body["messages"][0]["role"] == "system"
    assert "Nine to five." in chat_body["messages"][0]["content"]
    assert chat_body["messages"][-1] == {"role": "user", "content": "What are your opening hours?"}
    assert chat_body["tools"][0]["function"]["name"] == "lookup"
    speech_bodies = openai_fake.requests_to("/v1/audio/speech")
    assert [b["input"] for b in speech_bodies] == ["We open at nine.", "We close at five."]
    assert {(b["voice"], b["response_format"]) for b in speech_bodies} == {("coral", "pcm")}


def test_tool_call_round_trip(session, openai_fake, question_ulaw):
    openai_fake.transcripts = ["Where is my order 42?"]
    openai_fake.replies = [
        {"tool_calls": [{"id": "call_7", "name": "lookup", "arguments": '{"query": "order 42"}'}]},
        {"text": "Your order shipped."},
    ]
    speak(session, question_ulaw)
    call = pull_until(session, ToolCall)[-1]
    assert (call.call_id, call.name, call.arguments) == ("call_7", "lookup", {"query": "order 42"})
    session.send_tool_result("call_7", {"status": "shipped"})
    ai = [e for e in pull_until(session, ResponseDone) if isinstance(e, Transcript)]
    assert ai[-1].text == "Your order shipped."
    second = openai_fake.requests_to("/v1/chat/completions")[1]["messages"]
    assert second[-2]["tool_calls"][0]["id"] == "call_7"
    assert second[-1]["role"] == "tool" and second[-1]["tool_call_id"] == "call_7"
    assert json.loads(second[-1]["content"]) == {"status": "shipped"}


def test_invalid_tool_arguments_return_an_error_to_the_model(session, openai_fake,
                                                             question_ulaw):
    openai_fake.transcripts = ["Look something up."]
    openai_fake.replies = [
        {"tool_calls": [{"id": "call_1", "name": "lookup", "arguments": '{"q": 1}'}]},
        {"text": "Sorry, I could not look that up."},
    ]
    speak(session, question_ulaw)
    events = pull_until(session, ResponseDone)
    assert not any(isinstance(e, ToolCall) for e in events)
    tool_message = openai_fake.requests_to("/v1/chat/completions")[1]["messages"][-1]
    assert json.loads(tool_message["content"])["ok"] is False


@pytest.mark.parametrize(("path", "code"), [
    ("/v1/audio/transcriptions", "stt_failed"),
    ("/v1/chat/completions", "llm_failed"),
    ("/v1/audio/speech", "tts_failed"),
])
def test_backend_500_is_a_failure_event_and_the_session_recovers(session, openai_fake,
                                                                question_ulaw, path, code):
    openai_fake.transcripts = ["Hello?"]
    openai_fake.replies = [{"text": "Hi."}]
    openai_fake.failures[path] = 500
    speak(session, question_ulaw)
    events = pull_until(session, ResponseDone)
    failure = next(e for e in events if isinstance(e, AgentFailure))
    assert failure.code == code and not failure.fatal and "500" in failure.message
    assert events[-1].status == "failed"
    apology = pull_until(session, ResponseDone)  # the caller hears a local apology
    assert b"".join(e.ulaw for e in apology if isinstance(e, AudioOut)) == speech.apology_ulaw()
    speak(session, question_ulaw)  # the next turn works again
    events = pull_until(session, ResponseDone)
    assert events[-1].status == "completed" and any(isinstance(e, AudioOut) for e in events)


def test_stalled_backend_times_out_into_a_failure_event(openai_fake, settings, question_ulaw):
    openai_fake.stalls["/v1/chat/completions"] = 10
    session = PipelineSession(PROFILE, {**settings, "OPENAI_TIMEOUT_S": 0.3})
    session.connect()
    try:
        speak(session, question_ulaw)
        failure = pull_until(session, AgentFailure)[-1]
        assert failure.code == "llm_failed" and "Timeout" in failure.message
    finally:
        session.close()


def test_fake_rejects_unknown_parameters_like_openai(openai_fake):
    client = openai.OpenAI(api_key="sk-fake", base_url=openai_fake.url, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user",
                                       "content": "hi"}], extra_body={"bogus": 1})
    assert info.value.code == "unknown_parameter" and info.value.param == "bogus"
    with pytest.raises(openai.AuthenticationError):
        wrong = openai.OpenAI(api_key="sk-wrong", base_url=openai_fake.url, max_retries=0)
        wrong.audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input="hi",
                                  response_format="pcm")


def test_a_silent_reply_leaves_no_invalid_message_in_the_history(session, openai_fake,
                                                                question_ulaw):
    openai_fake.transcripts = ["They talk among themselves.", "Are you open today?"]
    openai_fake.replies = [{"text": ""}, {"text": "Yes."}]
    speak(session, question_ulaw)
    first = pull_until(session, ResponseDone)
    assert not any(isinstance(e, AudioOut) for e in first)
    speak(session, question_ulaw)
    second = pull_until(session, ResponseDone)
    assert second[-1].status == "completed" and any(isinstance(e, AudioOut) for e in second)
    roles = [m["role"] for m in openai_fake.requests_to("/v1/chat/completions")[1]["messages"]]
    assert roles == ["system", "user", "user"]
