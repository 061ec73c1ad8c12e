"""The AI leg's backend side: one session, playout tracker and replay rings per AI callSid.

A LiveCall outlives its sockets (reconnects, duplicate sockets) for RECONNECT_WINDOW_S. A
short-lived reader (a greenlet under gevent) connects the backend; from then on the session
announces its events (`listen`, agents/outbox.py) and they are handled in the announcing
greenlet, so no reader stays blocked for the whole call. The socket side is `AiLeg`.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING

from agents.base import (
    AgentFailure,
    AgentProfile,
    AgentSession,
    AudioOut,
    ResponseDone,
    SpeechStarted,
    ToolCall,
    Transcript,
)
from agents.realtime.prewarm import POOL
from agents.registry import backend_settings, create_session
from agents.tools import error_output
from conference.logs import get_logger, monotonic_ms
from conference.media import loops, metrics, ports, statesink
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


class LiveCall(BargeIn):
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
        self.session: AgentSession | None = None
        self.ready = False
        self.inline = False
        self.pushed = False  # the session announces its events: nobody waits in next_event
        self._reading = False  # a reader greenlet (connecting, or pulling) is alive
        self._drain_lock = loops.try_lock()  # acquired with blocking=False only
        self._more = False  # events announced while another greenlet was draining
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

    def _start_reader(self) -> None:
        self._reading = True
        loops.start_loop(self._read_events, f"agent-{self.call_sid}")

    def wake(self) -> None:
        """Let the current socket's sender look for work."""
        leg = self.leg
        if leg is not None:
            leg.wake.set()

    # -- backend side -------------------------------------------------------------------------

    def _read_events(self) -> None:
        try:
            self._pull_events()
        finally:
            self._reading = False

    def _pull_events(self) -> None:
        backoff = 0.25
        while not self.closed:
            if not self.ready:
                # Apart: the profile query and the backend's set-up run deep, and this loop's
                # greenlet lives as long as the call (conference/media/loops.py).
                if not loops.run_apart(self._connect):
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                continue
            if self.pushed:
                return  # the session calls on_events from here on; failed() restarts us
            backoff = 0.25
            session = self.session
            try:
                # No timeout: a timer per wake-up costs more than the frame; close() wakes us.
                event = session.next_event(None)
            except Exception as exc:
                self.failed("next_event", exc)
                continue
            if event is not None:
                self.drain(session, event)
            elif self.session is session and not self.closed:
                self.failed("session_closed", None)  # the backend ended it by itself

    def on_events(self) -> None:
        """The session queued events (called in its own greenlet or thread): handle them now.

        One drainer at a time: a greenlet that finds another draining leaves it a note to look
        again, so nothing waits and no event is left behind."""
        self._more = True
        lock = self._drain_lock
        while self._more and lock.acquire(blocking=False):
            try:
                self._more = False
                session = self.session
                if session is None or self.closed or not self.pushed:
                    return
                self.drain(session)
                if session.finished and self.session is session and not self.closed:
                    # Ended by itself (drain read up to its end marker): reconnect. failed()
                    # may yield (closing waits); the loop then looks again at what came meanwhile.
                    self.failed("session_closed", None)
            finally:
                lock.release()

    def drain(self, session, event=None) -> None:
        """Handle `event` and every event already queued, then wake the sender once."""
        handled = False
        try:
            if event is None:
                event = session.next_event(0)
            while event is not None:
                self._handle(event)
                handled = True
                # next_event(0) never arms a timer (agents/echo.py, the backends' queues).
                event = session.next_event(0) if self.session is session else None
        except Exception as exc:
            self.failed("next_event", exc)
        if handled:
            self.wake()

    def _connect(self) -> bool:
        try:
            if self.session is None:
                # The AI Voice webhook may have opened this call's session while it rang.
                profile = self._profile()
                self.session = POOL.claim(self.call_sid) or create_session(
                    profile.backend or self.plane.config["AI_BACKEND"], profile,
                    backend_settings(self.plane.config))
            self.session.connect()
        except Exception as exc:
            self.failed("connect", exc)
            return False
        replay, session = self.replay, self.session
        try:
            # Feed what the backend missed (audio heard while it was down); no yield between
            # the last check and `ready`, so no frame slips past both paths.
            while replay.fed < replay.inbound.next_index:
                target = replay.inbound.next_index
                frames = replay.inbound.since(replay.fed)
                for frame in frames:
                    session.send_audio(frame)
                replay.fed = target
                metrics.REPLAYED.labels(direction="inbound").inc(len(frames))
        except Exception as exc:
            self.failed("replay", exc)
            return False
        # A synchronous backend has queued its answer when send_audio() returns: the socket's
        # read loop drains it inline (one greenlet hop per frame instead of two).
        self.inline = bool(getattr(session, "synchronous", False))
        self.ready = True
        listen = getattr(session, "listen", None)
        if listen is not None:  # events announced from here on: the reader can end
            self.pushed = True
            listen(self.on_events)
        return True

    def _profile(self) -> AgentProfile:
        loader = ports.profile_loader(self.plane.app)
        name = self.info.get("agent") or "default"
        if loader is not None:
            try:
                with self.plane.app.app_context():
                    return loader(self.info.get("tenant"), name)
            except Exception:
                log.warning("profile loader failed", exc_info=True, extra={"event": "profile"})
        return AgentProfile(name=name)

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
