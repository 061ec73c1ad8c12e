"""PipelineSession: endpointing -> STT -> LLM -> TTS, one worker per call, barge-in aware."""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from agents import speech
from agents.audio import ULAW_RATE
from agents.base import (
    AgentError,
    AgentFailure,
    AgentProfile,
    AudioOut,
    ResponseDone,
    SpeechStarted,
    SpeechStopped,
)
from agents.outbox import Outbox, OutboxEvents
from agents.pipeline import metrics as turn_metrics
from agents.pipeline.endpoint import Endpointer, SpeechBegan, SpeechEnded
from agents.pipeline.history import merge, system_prompt, trim_history
from agents.pipeline.speaker import truncate_text
from agents.pipeline.stages import (
    Responder,
    SpeechToText,
    StreamingSpeechToText,
    TextToSpeech,
    Utterance,
)
from agents.pipeline.turn import Cancelled, Turn

CALLER = "caller"


class PipelineSession(OutboxEvents):
    """The sidecar backend: OpenAI stages with an API key, offline stages without."""

    backend = "pipeline"

    def __init__(
        self,
        profile: AgentProfile,
        settings: Mapping[str, Any],
        *,
        stt: SpeechToText | None = None,
        responder: Responder | None = None,
        tts: TextToSpeech | None = None,
    ) -> None:
        self.profile = profile
        self.settings = dict(settings)
        self.stt, self.responder, self.tts = stt, responder, tts
        self.endpointer = Endpointer(silence_ms=int(self.settings.get("PIPELINE_SILENCE_MS", 500)))
        self.history: list[dict] = [{"role": "system", "content": system_prompt(profile)}]
        self.generation = 0
        self.responding = False
        self.tool_results: queue.Queue = queue.Queue()
        self._events = Outbox()
        self._jobs: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._items = 0
        self._heard: tuple[str, int] | None = None
        self._last_spoken: tuple[str, int, int] | None = None  # item, history index, bytes
        self._carry: Utterance | None = None  # speech whose turn the caller's next words cut
        self._streaming = False  # a streaming STT has an utterance open
        self._stream_broken = False

    # -- stage construction -------------------------------------------------------------
    def build_stages(self) -> None:
        """Fill missing stages: OpenAI with a key, else the offline ones."""
        from agents.pipeline.factory import stages

        stt, responder, tts = stages(self.profile, self.settings)
        self.stt = self.stt or stt
        self.responder = self.responder or responder
        self.tts = self.tts or tts

    # -- AgentSession -------------------------------------------------------------------
    def connect(self) -> None:
        """Build the stages and start the worker; AgentError when a stage cannot start."""
        try:
            self.build_stages()
        except AgentError:
            raise
        except Exception as exc:  # a missing model or binary; the host falls back
            raise AgentError("connect_failed", str(exc)) from exc
        self._worker = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._worker.start()
        if self.profile.greeting:
            self._jobs.put(("say", self.profile.greeting))

    def send_audio(self, ulaw: bytes) -> None:
        """Endpoint the caller's audio (cheap, inline); finished utterances go to the worker."""
        if self._closed:
            return
        now, streaming = time.monotonic(), isinstance(self.stt, StreamingSpeechToText)
        for event in self.endpointer.feed(ulaw):
            if isinstance(event, SpeechBegan):
                if self.responding:
                    self.generation += 1  # barge-in: stop producing the current reply
                self._emit(SpeechStarted(CALLER, event.ms))
            elif isinstance(event, SpeechEnded):
                self._emit(SpeechStopped(CALLER, event.end_ms))
                if streaming:
                    self._jobs.put(("audio", event.rest))
                # Audio arrives in real time, so the last voiced frame arrived this long ago.
                lag = (self.endpointer.position_ms - event.end_ms) / 1000
                utt = Utterance(event.pcm, event.start_ms, event.end_ms, ended_at=now - lag,
                                streamed=streaming)
                self._jobs.put(("utterance", utt))
        if streaming and (speech := self.endpointer.take_speech()):
            self._jobs.put(("audio", speech))  # decoded by the worker while the caller talks

    def stop_response(self) -> None:
        """Stop the LLM and TTS of the current turn now (each stage checks the generation)."""
        self.generation += 1  # turns begun from here on (the answer to the barge-in) go ahead

    def truncate(self, heard_ms: int, item_id: str | None = None) -> None:
        """Remember how much of `item_id` was heard; the history is cut before the next turn."""
        if item_id is not None:
            self._heard = (item_id, heard_ms)

    def send_tool_result(self, call_id: str, output: dict) -> None:
        """Hand a tool result to the waiting turn."""
        self.tool_results.put((call_id, output))

    def close(self) -> None:
        """Stop the worker; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.generation += 1
        self._jobs.put(None)
        self._events.end()  # wakes a reader blocked in next_event

    # -- worker -------------------------------------------------------------------------
    def _emit(self, event: Any) -> None:
        if not self._closed:
            self._events.put(event)

    def emit(self, event: Any) -> None:
        """Queue an event for the reader (used by Turn)."""
        self._emit(event)

    def new_item_id(self) -> str:
        """A fresh response item id."""
        self._items += 1
        return f"{self.backend}_item_{self._items}"

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            kind, payload = job
            if kind == "audio":
                self._stream(payload)
                continue
            self._apply_heard()
            if kind == "utterance":
                payload = self._prepare(payload)
            self.history = trim_history(self.history)
            turn = Turn(self, self.generation)
            self.responding = True
            try:
                if kind == "say":
                    turn.say(payload)
                else:
                    turn.handle(payload)
            except Cancelled:
                turn.abandon()
                if kind == "utterance" and turn.carry_over():
                    # The caller only paused: their next words continue this utterance.
                    self._carry = payload
            except Exception as exc:  # a backend failure must never end the call
                code = exc.code if isinstance(exc, AgentError) else "backend_error"
                self._emit(AgentFailure(code, str(exc)[:300]))
                self._emit(ResponseDone(turn.item_id, "failed"))
                self._apologize(turn.item_id)
            finally:
                self.responding = False
                if turn.spoken_index is not None:
                    self._last_spoken = (turn.item_id, turn.spoken_index, turn.framer.sent_bytes)
                if turn.metrics is not None:
                    turn_metrics.observe(turn.metrics)
                    self._emit(turn.metrics)

    def _stream(self, pcm: bytes) -> None:
        # A failing stream is not fatal: the utterance is then decoded whole.
        try:
            if not self._streaming:
                self.stt.start()
                self._streaming = True
            self.stt.feed(pcm)
        except Exception:
            self._stream_broken = True

    def _prepare(self, utterance: Utterance) -> Utterance:
        """Merge a carried-over half and decide whether the streamed decode can be used."""
        streamed = utterance.streamed and self._streaming and not self._stream_broken
        if self._carry is not None:
            utterance, self._carry, streamed = merge(self._carry, utterance), None, False
        if self._streaming and not streamed:
            with contextlib.suppress(Exception):
                list(self.stt.finish())  # close the partial stream; the whole audio is used
        self._streaming = self._stream_broken = False
        utterance.streamed = streamed
        return utterance

    def _apologize(self, item_id: str) -> None:
        # The caller asked something and would otherwise hear nothing: say sorry, locally.
        apology = speech.apology_ulaw()
        if apology and not self._closed:
            self._emit(AudioOut(item_id + "_apology", apology))
            self._emit(ResponseDone(item_id + "_apology", "completed"))

    def _apply_heard(self) -> None:
        heard, last = self._heard, self._last_spoken
        self._heard = None
        if heard is None or last is None or heard[0] != last[0]:
            return
        message = self.history[last[1]]
        generated_ms = last[2] * 1000 // ULAW_RATE
        message["content"] = truncate_text(message["content"] or "", heard[1], generated_ms)
