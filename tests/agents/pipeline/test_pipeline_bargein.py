"""Session logic with scripted in-process stages: barge-in, stop and truncation, failures."""
from __future__ import annotations

import threading

from agents import audio
from agents.base import AgentFailure, AgentProfile, AudioOut, ResponseDone, SpeechStarted
from agents.pipeline import PipelineSession
from tests.support.sessions import pull_until, speak

CHUNK = b"\x10" * 800  # 100 ms of (non-silent) mu-law


class ScriptedSTT:
    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)

    def transcribe(self, pcm):
        yield self.texts.pop(0), True


class EchoResponder:
    def __init__(self) -> None:
        self.seen: list[list[dict]] = []

    def respond(self, messages):
        self.seen.append([dict(m) for m in messages])
        yield from ("one two three four five six seven eight nine ten.",)


class GatedTTS:
    """Produces one chunk, then waits for the test before each further chunk."""

    def __init__(self, chunks: int = 10) -> None:
        self.chunks = chunks
        self.gate = threading.Semaphore(0)

    def synthesize(self, text):
        for n in range(self.chunks):
            if n:  # not after the last chunk: the reply then ends at once, not 5 s later
                self.gate.acquire(timeout=5)
            yield CHUNK


class BrokenTTS:
    def synthesize(self, text):
        raise RuntimeError("speaker on fire")
        yield  # pragma: no cover


def test_caller_speech_during_a_reply_cancels_it(question_ulaw):
    tts, responder = GatedTTS(), EchoResponder()
    session = PipelineSession(AgentProfile(), {}, stt=ScriptedSTT("hi", "stop"),
                              responder=responder, tts=tts)
    session.connect()
    try:
        speak(session, question_ulaw)
        first = pull_until(session, AudioOut)[-1]
        speak(session, question_ulaw[:8000])  # the caller talks over the AI
        events = pull_until(session, SpeechStarted)
        tts.gate.release()  # let the TTS loop notice the cancel
        done = pull_until(session, ResponseDone)[-1]
        assert (done.item_id, done.status) == (first.item_id, "cancelled")
        session.stop_response()
        session.truncate(heard_ms=50, item_id=first.item_id)
        speak(session, question_ulaw[8000:])
        while not isinstance(event := session.next_event(timeout=10), AudioOut):
            assert event is not None
        assert event.item_id != first.item_id  # nothing more of the cancelled item
        for _ in range(10):
            tts.gate.release()
        pull_until(session, ResponseDone)
        # The cut-off reply stays in the history, shortened to the share the caller heard:
        # 50 of the 100 ms generated -> half of its ten words.
        history = responder.seen[-1]
        assert history[-2] == {"role": "assistant", "content": "one two three four five..."}
        assert history[-1] == {"role": "user", "content": "stop"}
        assert any(isinstance(e, SpeechStarted) for e in events)
    finally:
        session.close()


def test_a_stage_exception_is_a_failure_event_never_a_crash(question_ulaw):
    stt = ScriptedSTT("hi", "again")
    session = PipelineSession(AgentProfile(), {}, stt=stt, responder=EchoResponder(),
                              tts=BrokenTTS())
    session.connect()
    try:
        speak(session, question_ulaw)
        failure = pull_until(session, AgentFailure)[-1]
        assert failure.code == "backend_error" and "speaker on fire" in failure.message
        assert pull_until(session, ResponseDone)[-1].status == "failed"
        assert pull_until(session, ResponseDone)[-1].item_id.endswith("_apology")
        speak(session, question_ulaw)  # the worker survived and handles the next turn
        again = pull_until(session, AgentFailure)[-1]
        assert stt.texts == [] and again.code == "backend_error"  # "again" was transcribed
    finally:
        session.close()


def test_send_audio_after_close_is_ignored(question_ulaw):
    session = PipelineSession(AgentProfile(), {}, stt=ScriptedSTT(), responder=EchoResponder(),
                              tts=GatedTTS())
    session.connect()
    session.close()
    session.close()
    assert audio.ulaw_ms(question_ulaw) > 1000
    speak(session, question_ulaw)
    # A second of speech would move the endpointer and start a turn: closed, nothing moves.
    assert session.endpointer.position_ms == 0 and not session.responding


class GatedSTT:
    """Blocks each transcription until released; records how much audio it was given."""

    def __init__(self) -> None:
        self.gate = threading.Semaphore(0)
        self.started = threading.Semaphore(0)
        self.sizes: list[int] = []

    def transcribe(self, pcm):
        self.sizes.append(len(pcm))
        self.started.release()
        self.gate.acquire(timeout=10)
        yield f"part {len(self.sizes)}", True


def test_a_pause_mid_sentence_merges_the_two_halves(question_ulaw):
    stt, responder = GatedSTT(), EchoResponder()
    session = PipelineSession(AgentProfile(), {}, stt=stt, responder=responder, tts=GatedTTS(1))
    session.connect()
    try:
        speak(session, question_ulaw)  # first half, then a pause long enough to endpoint
        assert stt.started.acquire(timeout=10)
        speak(session, question_ulaw)  # the caller goes on while the turn is still in STT
        pull_until(session, SpeechStarted)
        stt.gate.release()
        assert pull_until(session, ResponseDone)[-1].status == "cancelled"
        assert stt.started.acquire(timeout=10)
        stt.gate.release()
        assert pull_until(session, ResponseDone)[-1].status == "completed"
        first, merged = stt.sizes
        assert merged > first * 1.8  # both halves went to the recognizer together
        users = [m for m in responder.seen[-1] if m["role"] == "user"]
        assert users == [{"role": "user", "content": "part 2"}]
    finally:
        session.close()


class StreamingSTT:
    """Records the streaming calls; `transcribe` must not be needed."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fed = 0

    def start(self):
        self.calls.append("start")

    def feed(self, pcm):
        self.calls.append("feed")
        self.fed += len(pcm)

    def finish(self):
        self.calls.append("finish")
        yield "streamed words", True

    def transcribe(self, pcm):
        raise AssertionError("a streaming STT is fed while the caller talks")


def test_streaming_stt_is_fed_during_speech_and_finished_at_the_end(question_ulaw):
    stt, responder = StreamingSTT(), EchoResponder()
    session = PipelineSession(AgentProfile(), {}, stt=stt, responder=responder, tts=GatedTTS(1))
    session.connect()
    try:
        speak(session, question_ulaw)
        assert pull_until(session, ResponseDone)[-1].status == "completed"
        assert stt.calls[0] == "start" and stt.calls[-1] == "finish"
        assert stt.calls.count("feed") > 10 and stt.calls.count("start") == 1
        speech_bytes = len(question_ulaw) * 2 - 8000 * 2  # PCM16 of the speech part
        assert stt.fed >= speech_bytes * 0.8
        assert responder.seen[-1][-1] == {"role": "user", "content": "streamed words"}
    finally:
        session.close()
