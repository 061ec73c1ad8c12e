"""One conversational turn of a PipelineSession: transcribe, think, speak, time each stage."""
from __future__ import annotations

import json
import queue
import time
from typing import TYPE_CHECKING

from agents import tools
from agents.base import AudioOut, ResponseDone, ToolCall, Transcript
from agents.pipeline.metrics import TurnMetrics
from agents.pipeline.speaker import Framer, cut_sentences
from agents.pipeline.stages import ToolRequest, Utterance

if TYPE_CHECKING:
    from agents.pipeline.session import PipelineSession

MAX_TOOL_ROUNDS = 3
TOOL_TIMEOUT_S = 15.0


class Cancelled(Exception):
    """The turn was superseded by a barge-in, an interrupt or close."""


def _ms(since: float) -> float:
    return round((time.monotonic() - since) * 1000, 1)


class Turn:
    """State of one turn; every stage checks the session generation so barge-in stops it fast."""

    def __init__(self, session: PipelineSession, generation: int) -> None:
        self.session = session
        self.generation = generation
        self.item_id = session.new_item_id()
        self.framer = Framer()
        self.spoken_index: int | None = None
        self.metrics: TurnMetrics | None = None
        self.spoken: list[str] = []
        self._timing: dict = {}
        self._heard_at: float | None = None
        self._user_index: int | None = None

    def check(self) -> None:
        """Raise Cancelled when the session moved on."""
        if self.session.generation != self.generation:
            raise Cancelled

    def say(self, text: str) -> None:
        """Speak fixed text (the greeting) and record it as the AI's line."""
        self._speak(text)
        self.spoken.append(text)
        self.session.history.append({"role": "assistant", "content": text})
        self.spoken_index = len(self.session.history) - 1
        self._finish(self.spoken, None)

    def handle(self, utterance: Utterance) -> None:
        """Answer one caller utterance."""
        self._heard_at = utterance.ended_at
        started, text, stt = time.monotonic(), "", self.session.stt
        results = stt.finish() if utterance.streamed else stt.transcribe(utterance.pcm)
        for text, final in results:
            self.check()
            self.session.emit(Transcript("caller", text, final))
        self._timing["stt_ms"] = _ms(started)
        if not text.strip():
            return
        self.session.history.append({"role": "user", "content": text})
        self._user_index = len(self.session.history) - 1
        for _ in range(MAX_TOOL_ROUNDS):
            requests = self._think(self.spoken)
            if not requests:
                break
            self._run_tools(requests)
        self._finish(self.spoken, utterance)

    def carry_over(self) -> bool:
        """After a cancel with nothing said yet: drop this turn's user message, keep its audio."""
        if self.framer.sent_bytes or self.spoken:
            return False
        history = self.session.history
        if history and history[-1].get("role") == "user" and self._user_index == len(history) - 1:
            history.pop()
        return True

    def abandon(self) -> None:
        """After a cancel: keep what was already said in the history, and close the item."""
        if self.spoken and self.spoken_index is None:
            self.session.history.append({"role": "assistant", "content": " ".join(self.spoken)})
            self.spoken_index = len(self.session.history) - 1
        if self.spoken:
            self.session.emit(Transcript("ai", " ".join(self.spoken), True, self.item_id))
        self.session.emit(ResponseDone(self.item_id, "cancelled"))

    def _think(self, spoken: list[str]) -> list[ToolRequest]:
        started, buffer, requests, text = time.monotonic(), "", [], []
        for delta in self.session.responder.respond(self.session.history):
            self.check()
            self._timing.setdefault("llm_first_token_ms", _ms(started))
            if isinstance(delta, ToolRequest):
                requests.append(delta)
                continue
            buffer += delta
            text.append(delta)
            sentences, buffer = cut_sentences(buffer)
            for sentence in sentences:
                spoken.append(sentence)  # before speaking: a cut-off sentence was partly heard
                self._speak(sentence)
        if buffer.strip():
            spoken.append(buffer.strip())
            self._speak(buffer.strip())
        message: dict = {"role": "assistant", "content": "".join(text) or None}
        if requests:
            message["tool_calls"] = [
                {"id": r.call_id, "type": "function",
                 "function": {"name": r.name, "arguments": r.arguments}}
                for r in requests
            ]
        if text or requests:  # the API rejects an assistant message with neither
            self.session.history.append(message)
            self.spoken_index = len(self.session.history) - 1
        return requests

    def _speak(self, text: str) -> None:
        started = time.monotonic()
        for chunk in self.session.tts.synthesize(text):
            self.check()
            self._timing.setdefault("tts_first_audio_ms", _ms(started))
            self._send(self.framer.push(chunk))
        self._send(self.framer.flush())

    def _send(self, ulaw: bytes) -> None:
        if not ulaw:
            return
        if self._heard_at is not None:
            self._timing.setdefault("end_to_end_ms", _ms(self._heard_at))
        self.session.emit(AudioOut(self.item_id, ulaw))

    def _run_tools(self, requests: list[ToolRequest]) -> None:
        for request in requests:
            output = self._call_tool(request)
            self.session.history.append(
                {"role": "tool", "tool_call_id": request.call_id, "name": request.name,
                 "content": json.dumps(output)}
            )

    def _call_tool(self, request: ToolRequest) -> dict:
        # Bad arguments go back to the model as a tool error; the host never sees them.
        try:
            arguments = json.loads(request.arguments or "{}")
            checked = tools.validate(request.name, arguments, tuple(self.session.profile.tools))
        except (ValueError, tools.ToolArgumentError) as exc:
            return tools.error_output(str(exc))
        self.session.emit(ToolCall(request.call_id, request.name, checked))
        deadline = time.monotonic() + TOOL_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            self.check()
            try:
                call_id, output = self.session.tool_results.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if call_id == request.call_id:
                return output
        return tools.error_output("the tool did not answer in time")

    def _finish(self, spoken: list[str], utterance: Utterance | None) -> None:
        text = " ".join(spoken)
        if text:
            self.session.emit(Transcript("ai", text, True, self.item_id))
        self.session.emit(ResponseDone(self.item_id, "completed"))
        if utterance is not None:
            self.metrics = TurnMetrics(self.item_id, self.session.backend, **self._timing)
