"""The offline agent really hears and really speaks: spoken question in, spoken answer out.

The answer audio is checked by running it back through pocketsphinx, restricted to the
vocabulary of all the profile's answers, so picking the wrong answer (or silence) fails.
"""
from __future__ import annotations

import pytest

from agents import audio, speech
from agents.base import AgentProfile, AudioOut, ResponseDone, ToolCall, Transcript
from agents.local import DEFAULT_FAQ, LocalSession
from agents.pipeline.metrics import TurnMetrics
from agents.pipeline.offline import SphinxSTT
from agents.registry import create_session
from twilio_sim.audio import read_wav_ulaw
from twilio_sim.fixtures import fixture_path

pytestmark = pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")

PROFILE = AgentProfile(faq=DEFAULT_FAQ, tools=("transfer_to_human", "end_call"))
TRAILING_SILENCE = audio.ULAW_SILENCE * 8000  # 1 s, enough for the endpointer to close


def run_turn(session, ulaw: bytes, until=ResponseDone) -> list:
    for frame in audio.split_frames(ulaw + TRAILING_SILENCE):
        session.send_audio(frame)
    events = []
    while (event := session.next_event(timeout=30)) is not None:
        events.append(event)
        if isinstance(event, until):
            break
    return events


def heard_answer(events) -> str:
    ulaw = b"".join(e.ulaw for e in events if isinstance(e, AudioOut))
    checker = SphinxSTT("\n".join(answer for _, answer in DEFAULT_FAQ))
    return next(iter(checker.transcribe(audio.ulaw_to_pcm16(ulaw))))[0]


@pytest.fixture
def session():
    session = LocalSession(PROFILE, {})
    session.connect()
    yield session
    session.close()


def test_spoken_question_fixture_gets_spoken_faq_answer(session):
    events = run_turn(session, read_wav_ulaw(str(fixture_path("opening_hours"))))
    caller = [e for e in events if isinstance(e, Transcript) and e.speaker == "caller"]
    assert "opening hours" in caller[-1].text
    frames = [e.ulaw for e in events if isinstance(e, AudioOut)]
    assert frames and all(len(f) % audio.ULAW_FRAME_BYTES == 0 for f in frames)
    text = heard_answer(events)
    assert {"open", "monday", "friday"} <= set(text.split()), text
    assert "dollars" not in text and "street" not in text


def test_generated_question_gets_the_matching_answer(session):
    events = run_turn(session, speech.synthesize_ulaw("Where are you located?"))
    text = heard_answer(events)
    assert {"main", "street", "springfield"} <= set(text.split()), text


def test_turn_metrics_are_emitted_after_the_answer(session):
    run_turn(session, read_wav_ulaw(str(fixture_path("opening_hours"))))
    metrics = session.next_event(timeout=10)
    assert isinstance(metrics, TurnMetrics) and metrics.backend == "local"
    assert metrics.stt_ms > 0 and metrics.tts_first_audio_ms > 0
    # End of speech -> first audio includes the endpointer's 500 ms of silence.
    assert metrics.end_to_end_ms >= 450


def test_asking_for_a_human_calls_the_transfer_tool(session):
    events = run_turn(
        session, read_wav_ulaw(str(fixture_path("speak_to_human"))), until=ToolCall
    )
    call = events[-1]
    assert call.name == "transfer_to_human" and call.arguments["reason"]
    session.send_tool_result(call.call_id, {"ok": True})
    after = []
    while not isinstance(event := session.next_event(timeout=30), ResponseDone):
        after.append(event)
    spoken = [e for e in after if isinstance(e, Transcript) and e.speaker == "ai"]
    assert "connecting you" in spoken[-1].text
    assert any(isinstance(e, AudioOut) for e in after)


def test_greeting_is_spoken_on_connect():
    session = create_session("local", AgentProfile(greeting="Hello, how can I help?"), {})
    session.connect()
    try:
        first = session.next_event(timeout=30)
        assert isinstance(first, AudioOut) and audio.rms(audio.ulaw_to_pcm16(first.ulaw)) > 0
    finally:
        session.close()
    drained = [session.next_event(timeout=1) for _ in range(200)]
    assert drained[-1] is None  # a closed session ends its event stream
