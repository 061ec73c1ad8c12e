"""LiveCall's link to its backend: connect (and reconnect), then handle what the session announces.

A short-lived reader (a greenlet under gevent) connects the session and feeds it the audio it
missed; from then on the session announces its events (`listen`, agents/outbox.py) and they are
handled in the announcing greenlet, one drainer at a time, so no reader stays blocked for the
whole call. Sessions that cannot announce are pulled by the reader as before.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agents.base import AgentProfile, AgentSession
from agents.realtime.prewarm import POOL
from agents.registry import backend_settings, create_session
from conference.logs import get_logger
from conference.media import loops, metrics, ports

if TYPE_CHECKING:
    from conference.media.registry import MediaPlane
    from conference.media.replay import CallReplay

log = get_logger("media.bridge")


class BackendLink:
    """LiveCall's backend methods; the per-call state lives on the LiveCall itself."""

    plane: MediaPlane
    call_sid: str
    info: dict
    replay: CallReplay
    session: AgentSession | None
    ready: bool
    pushed: bool
    closed: bool
    _reading: bool
    _more: bool

    def _init_link(self) -> None:
        self.session = None
        self.ready = False
        self.pushed = False  # the session announces its events: nobody waits in next_event
        self._reading = False  # a reader greenlet (connecting, or pulling) is alive
        self._drain_lock = loops.try_lock()  # acquired with blocking=False only
        self._more = False  # events announced while another greenlet was draining

    def failed(self, where: str, exc: BaseException | None) -> None:
        raise NotImplementedError

    def wake(self) -> None:
        raise NotImplementedError

    def _handle(self, event) -> None:
        raise NotImplementedError

    def _start_reader(self) -> None:
        self._reading = True
        loops.start_loop(self._read_events, f"agent-{self.call_sid}")

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
