"""The AI leg's backend side: one session, playout tracker and replay rings per AI callSid.

A LiveCall outlives its sockets (reconnects, duplicate sockets) for RECONNECT_WINDOW_S. Its
backend is connected and listened to by `BackendLink` (conference/media/backend_link.py); the
socket side is `AiLeg`.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING

from agents.base import (
    AgentFailure,
    AudioOut,
    ResponseDone,
    SpeechStarted,
    ToolCall,
    Transcript,
)
from agents.tools import error_output
from conference.logs import get_logger, monotonic_ms
from conference.media import metrics, ports, statesink
from conference.media.backend_link import BackendLink
from conference.media.barge import BargeIn
from conference.media.clearwatch import ClearWatch
from conference.media.playout import PlayoutTracker, Truncation
from conference.media.registry import conf_key
from models.conference import tenant_number

if TYPE_CHECKING:
    from conference.media.ai_leg import AiLeg
    from conference.media.registry import MediaPlane

log = get_logger("media.bridge")
MODES = ("speak", "whisper", "listen")  # whisper: Twilio routes the audio to the coached leg


class LiveCall(BackendLink, BargeIn):
    """AI side of one AI call: survives socket restarts; never dies of a backend failure."""

    def __init__(self, plane: MediaPlane, call_sid: str, info: dict) -> None:
        cfg = plane.config
        self.plane, self.call_sid, self.info = plane, call_sid, info
        self.conf_key = conf_key(info.get("tenant"), info.get("conference"))
        self.tracker = PlayoutTracker(int(cfg["PLAYOUT_LEAD_MS"]), int(cfg["MARK_INTERVAL_MS"]),
                                      int(cfg.get("MEDIA_CHUNK_MS", 100)))
        self.replay = plane.replay.get(call_sid)
        # (outbound ring index, end position) of chunks sent and not yet acknowledged: a list,
        # short like the tracker's (an empty deque costs a 64-slot block per call).
        self.out_index: list[tuple[int, int]] = []
        self._init_link()
        self.closed = False
        self.leg: AiLeg | None = None
        self.parked_at: float | None = None
        self.moved = False  # another worker claimed the call (registry.moved_away)
        # The stream's `mode` parameter at start, then set_mode() (registry.set_ai_mode / bus).
        self.mode = info.get("mode") if info.get("mode") in MODES else "speak"
        self.failures = 0
        # AI transcript lines and turn metrics: queued on the state writer, off the audio path.
        self.recorder = ports.event_recorder(plane.app, plane.sink.submit,
                                             dict(info, call_sid=call_sid))
        self._observed_item: str | None = None
        self.clear_watch: tuple[ClearWatch, str, str | None] | None = None  # (watch, source, who)

    def start(self) -> None:
        """Resume from shared replay rings if another worker had this call, then start reading."""
        replay = self.replay
        if replay.inbound.frames and replay.fed >= replay.inbound.next_index:
            # A fresh session never heard the buffered tail: give it the whole ring.
            replay.fed = replay.inbound.frames[0][0]
        for chunk in replay.unacked_outbound():
            self.tracker.push("resume", chunk)
        self._start_reader()

    def wake(self) -> None:
        """Let the current socket's sender look for work."""
        leg = self.leg
        if leg is not None:
            leg.wake.set()

    def _handle(self, event) -> None:
        kind = type(event)
        if kind is AudioOut:
            if self.mode == "listen":  # a listening AI is not heard: its audio is dropped
                self.tracker.dropped_bytes += len(event.ulaw)
                metrics.AI_AUDIO_DROPPED.labels(reason="listen").inc(len(event.ulaw))
                return
            if event.item_id != self._observed_item:  # the recorder keeps only first audio
                self._observed_item = event.item_id
                self._observe(event)
            if not self.tracker.push(event.item_id, event.ulaw):  # the read loop wakes the sender
                metrics.AI_AUDIO_DROPPED.labels(reason="interrupted").inc(len(event.ulaw))
            return
        if kind is not Transcript or event.speaker != "ai" or self.mode != "listen":
            self._observe(event)  # (an AI line nobody heard is not the AI's record)
        if kind is SpeechStarted:
            self.barge_in("backend", monotonic_ms(), event.speaker)
        elif kind is ResponseDone:
            self.tracker.end_item()
        elif kind is ToolCall:
            threading.Thread(target=self._run_tool, args=(event,), daemon=True).start()
        elif kind is Transcript and event.final and (event.speaker != "ai"
                                                     or self.mode != "listen"):
            self.record("transcript", {"speaker": event.speaker, "text": event.text,
                                       "item_id": event.item_id})
        elif kind is AgentFailure:
            metrics.BACKEND_FAILURES.labels(code=event.code).inc()
            if event.fatal:
                self.failed(event.code, None)

    def _observe(self, event) -> None:
        try:
            if isinstance(event, Truncation):
                self.recorder.interrupted(event.item_id, event.heard_ms,
                                          event.heard_ms + max(event.flushed_ms, 0))
            else:
                self.recorder.observe(event)
        except Exception:
            log.warning("agent event not recorded", exc_info=True,
                        extra={"call_sid": self.call_sid, "event": "record"})

    def failed(self, where: str, exc: BaseException | None) -> None:
        """The backend broke: drop the session, apologise once, reconnect; the call stays up."""
        self.failures += 1
        metrics.BACKEND_FAILURES.labels(code=where).inc()
        log.warning("agent backend failed: %s", where, exc_info=exc is not None,
                    extra={"call_sid": self.call_sid, "event": "backend_failure"})
        was_ready, self.ready = self.ready, False
        session, self.session = self.session, None
        self.pushed = False
        if session is not None:
            with contextlib.suppress(Exception):
                session.listen(None)
            with contextlib.suppress(Exception):
                session.close()
        if not self._reading and not self.closed:
            self._start_reader()  # to reconnect (with back-off)
        if (was_ready or self.failures == 1) and self.mode != "listen":
            apology = self.plane.apology()
            if apology:
                self.tracker.push(f"apology-{self.failures}", apology)
                self.tracker.end_item()
                self.wake()

    def tool_context(self) -> dict:
        """What a tool handler may know of this call: its stream parameters and profile."""
        info, session = self.info, self.session
        tools = list(session.profile.tools) if session is not None else None
        return {"tenant_id": tenant_number(info.get("tenant")),
                "conference": info.get("conference"), "ai_call_sid": self.call_sid,
                "coach": info.get("coach") or None, "tools": tools}

    def _run_tool(self, event: ToolCall) -> None:
        try:
            handler = ports.tool_handler(self.plane.app)
            if handler is None:  # the model hears why, instead of waiting for nothing
                result = error_output(f"no tool handler: {event.name} is not available")
            else:
                result = handler(self.plane.app, self.tool_context(), event)
        except Exception:
            log.warning("tool call failed", exc_info=True,
                        extra={"call_sid": self.call_sid, "event": "tool_call"})
            result = error_output("the tool failed")
        session = self.session
        if session is None:
            return
        try:
            session.send_tool_result(event.call_id, result)
        except Exception as exc:
            self.failed("tool_result", exc)

    def set_mode(self, mode: str, now_ms: float) -> bool:
        """speak / whisper / listen; going to listen cuts what is playing (False: no change)."""
        if mode not in MODES or mode == self.mode:
            return False
        self.mode = mode
        if mode == "listen":
            self.barge_in("mode", now_ms)  # clear + truncate, as if someone talked over it
        return True

    def on_acked(self) -> None:
        """Advance the shared outbound cursor to the tracker's acknowledged position."""
        acked, index, done = self.tracker.acked, self.out_index, 0
        while done < len(index) and index[done][1] <= acked:
            done += 1
        if done:
            self.replay.out_acked = index[done - 1][0] + 1
            del index[:done]

    def record(self, event: str, payload: dict) -> None:
        """Queue a ConferenceEvent(source="media") write."""
        key = f"media:{self.call_sid}:{event}:{time.time_ns()}"
        self.plane.sink.submit(statesink.media_event, dict(self.info, call_sid=self.call_sid),
                               event, key, payload)

    def shutdown(self) -> None:
        """Close the backend session and stop the reader (parked window expired)."""
        self.closed = True
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                session.close()
