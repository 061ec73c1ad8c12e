"""Sans-I/O core of the Realtime backend: digests server events, decides what to send.

No sockets and no clocks: the I/O shell feeds it decoded server events and the audio it sends,
and carries out the returned `Step`. It tracks the active response, the ms of audio generated per
item (to cap truncation), function calls per response, recent transcript turns and a ring of
inbound audio not yet answered (both replayed into a fresh server session after a reconnect).
"""
from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass, field

from agents import tools
from agents.base import (
    AgentFailure,
    AgentProfile,
    AudioOut,
    ResponseDone,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    Transcript,
)
from agents.realtime import events as ev
from agents.realtime.context import ULAW_BYTES_PER_MS, ReplayRing, TurnLog

# Races every bridge hits during barge-in; the session carries on (reference §5.10).
HARMLESS_ERRORS = frozenset(
    {"response_cancel_not_active", "input_audio_buffer_commit_empty",
     "conversation_already_has_active_response"}
)


@dataclass
class Step:
    """What the shell must do after one server event."""

    events: list = field(default_factory=list)  # AgentEvents, in order
    sends: list = field(default_factory=list)  # client events, in order
    ready: bool = False  # the session config is confirmed: caller audio may flow
    reconnect: bool = False  # this server session is over; open a fresh one


class RealtimeProtocol:
    """State of one AI conversation across one or more Realtime server sessions."""

    def __init__(self, profile: AgentProfile, replay_ms: int = 8000, context_turns: int = 8):
        self.profile = profile
        self.sessions = 0  # server sessions opened (session.created seen)
        self.harmless_errors = 0
        self.active_response: str | None = None
        self.last_audio_item: str | None = None
        self.generated_ms: OrderedDict[str, int] = OrderedDict()
        self.turns = TurnLog(context_turns)
        self.ring = ReplayRing(replay_ms)
        self._cancelled: set[str] = set()  # response ids whose late audio must be dropped
        self._calls: dict[str, list[tuple[str, str, str]]] = {}
        self._response_item: dict[str, str] = {}

    # -- client side -------------------------------------------------------------------------

    def audio_sent(self, ulaw: bytes) -> dict:
        """The append event for `ulaw`, remembering it for replay."""
        self.ring.add(ulaw)
        return ev.audio_append(ulaw)

    def stop(self) -> list[dict]:
        """Cancel the active response now; its late audio is dropped from here on."""
        rid = self.active_response
        if rid is None or rid in self._cancelled:
            return []
        self._cancelled.add(rid)
        return [ev.response_cancel()]

    def truncate(self, heard_ms: int, item_id: str | None = None) -> list[dict]:
        """Truncate `item_id` at what the caller heard (cancelling it first if stop() never ran)."""
        item = item_id or self.last_audio_item
        sends = []
        rid = self.active_response
        # Only the response that spoke `item` is cancelled: a newer one is the AI's next turn.
        if rid is not None and (item is None or self._response_item.get(rid) == item):
            sends = self.stop()
        generated = self.generated_ms.get(item) if item else None
        # Only assistant audio can be truncated, and never beyond what was generated.
        if item and generated:
            cut = max(0, min(int(heard_ms), generated))
            sends.append(ev.truncate(item, cut))
            self.turns.heard(item, cut / generated)
        return sends

    def tool_result(self, call_id: str, output: dict) -> list[dict]:
        """Return a tool's output and let the model speak about it."""
        return [ev.function_output(call_id, output), ev.response_create()]

    # -- server side -------------------------------------------------------------------------

    def on_event(self, event: dict) -> Step:
        """Digest one decoded server event."""
        handler = _HANDLERS.get(event.get("type", ""))
        step = Step()
        if handler is not None:
            handler(self, event, step)
        return step

    def _session_created(self, event: dict, step: Step) -> None:
        self.sessions += 1
        self.active_response = None
        self.last_audio_item = None
        self.generated_ms.clear()
        self._calls.clear()
        step.sends.append(ev.session_update(self.profile))

    def _session_updated(self, event: dict, step: Step) -> None:
        audio = (event.get("session") or {}).get("audio") or {}
        formats = [((audio.get(side) or {}).get("format") or {}).get("type")
                   for side in ("input", "output")]
        if formats != ["audio/pcmu", "audio/pcmu"]:
            # Streaming mu-law into a pcm16 session breaks VAD and makes noise (reference §5.2).
            step.events.append(AgentFailure("format_mismatch", f"session formats {formats}", True))
            return
        if self.sessions > 1:
            step.sends.extend(ev.text_item(who, text) for who, text in self.turns)
            unanswered = self.ring.take()
            if unanswered:
                step.sends.append(self.audio_sent(unanswered))
        elif self.profile.greeting:
            step.sends.append(ev.greeting(self.profile.greeting))
        step.ready = True

    def _response_created(self, event: dict, step: Step) -> None:
        self.active_response = (event.get("response") or {}).get("id")

    def _audio_delta(self, event: dict, step: Step) -> None:
        if event.get("response_id") in self._cancelled:
            return  # the caller barged in; late audio must not reach them
        item = event.get("item_id") or ""
        ulaw = base64.b64decode(event.get("delta") or "")
        self.generated_ms[item] = self.generated_ms.get(item, 0) + len(ulaw) // ULAW_BYTES_PER_MS
        self.generated_ms.move_to_end(item)
        while len(self.generated_ms) > 32:
            self.generated_ms.popitem(last=False)
        self.last_audio_item = item
        self._response_item[event.get("response_id") or ""] = item
        step.events.append(AudioOut(item_id=item, ulaw=ulaw))

    def _ai_transcript(self, event: dict, step: Step) -> None:
        final = event["type"].endswith(".done")
        text = event.get("transcript") if final else event.get("delta")
        if final and text:
            self.turns.ai_done(event.get("item_id"), text)
        elif text:
            self.turns.ai_delta(event.get("item_id") or "", text)
        if text:
            step.events.append(Transcript("ai", text, final, event.get("item_id")))

    def _caller_transcript(self, event: dict, step: Step) -> None:
        final = event["type"].endswith(".completed")
        text = event.get("transcript") if final else event.get("delta")
        if final and text:
            self.turns.caller(text, event.get("item_id"))
        if text:
            step.events.append(Transcript("caller", text, final, event.get("item_id")))

    def _speech_started(self, event: dict, step: Step) -> None:
        step.events.append(SpeechStarted("caller", event.get("audio_start_ms")))

    def _speech_stopped(self, event: dict, step: Step) -> None:
        self.ring.speech_ended(event.get("audio_end_ms"))
        step.events.append(SpeechStopped("caller", event.get("audio_end_ms")))

    def _arguments_done(self, event: dict, step: Step) -> None:
        call = (event.get("call_id") or "", event.get("name") or "", event.get("arguments") or "")
        self._calls.setdefault(event.get("response_id") or "", []).append(call)

    def _response_done(self, event: dict, step: Step) -> None:
        response = event.get("response") or {}
        rid = response.get("id") or ""
        status = response.get("status") or "completed"
        if rid == self.active_response:
            self.active_response = None
        self._cancelled.discard(rid)
        calls = self._calls.pop(rid, [])
        if status == "completed":
            self.ring.answered()
            # Side-effecting tools only run for responses that were not cancelled (reference §3).
            self._dispatch_calls(calls, step)
        step.events.append(ResponseDone(self._response_item.pop(rid, None), status))

    def _dispatch_calls(self, calls: list[tuple[str, str, str]], step: Step) -> None:
        rejected = False
        for call_id, name, raw in calls:
            try:
                arguments = tools.validate(name, _loads(raw), self.profile.tools)
            except tools.ToolArgumentError as exc:
                step.sends.append(ev.function_output(call_id, tools.error_output(str(exc))))
                rejected = True
                continue
            step.events.append(ToolCall(call_id, name, arguments))
        if rejected:
            step.sends.append(ev.response_create())

    def _error(self, event: dict, step: Step) -> None:
        error = event.get("error") or {}
        code = error.get("code") or error.get("type") or "error"
        if code in HARMLESS_ERRORS:
            self.harmless_errors += 1
            return
        if code == "session_expired":
            step.reconnect = True
            return
        step.events.append(AgentFailure(code, error.get("message") or "", False))


def _loads(raw: str) -> object:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        raise tools.ToolArgumentError("arguments are not valid JSON") from None


_HANDLERS = {
    "session.created": RealtimeProtocol._session_created,
    "session.updated": RealtimeProtocol._session_updated,
    "response.created": RealtimeProtocol._response_created,
    "response.output_audio.delta": RealtimeProtocol._audio_delta,
    "response.output_audio_transcript.delta": RealtimeProtocol._ai_transcript,
    "response.output_audio_transcript.done": RealtimeProtocol._ai_transcript,
    "conversation.item.input_audio_transcription.delta": RealtimeProtocol._caller_transcript,
    "conversation.item.input_audio_transcription.completed": RealtimeProtocol._caller_transcript,
    "input_audio_buffer.speech_started": RealtimeProtocol._speech_started,
    "input_audio_buffer.speech_stopped": RealtimeProtocol._speech_stopped,
    "response.function_call_arguments.done": RealtimeProtocol._arguments_done,
    "response.done": RealtimeProtocol._response_done,
    "error": RealtimeProtocol._error,
}
