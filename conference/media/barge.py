"""Barge-in for LiveCall: clear and stop the AI at once, truncate once the clear is confirmed."""
from __future__ import annotations

from typing import TYPE_CHECKING

from conference.logs import get_logger
from conference.media import metrics
from conference.media.clearwatch import ClearWatch
from conference.media.playout import PlayoutTracker, Truncation

if TYPE_CHECKING:
    from agents.base import AgentSession
    from conference.media.ai_leg import AiLeg

log = get_logger("media.barge")


class BargeIn:
    """LiveCall's interruption methods; the per-call state lives on the LiveCall itself."""

    tracker: PlayoutTracker
    leg: AiLeg | None
    session: AgentSession | None
    ready: bool
    clear_watch: tuple[ClearWatch, str, str | None] | None  # (watch, source, speaker)

    def failed(self, where: str, exc: BaseException | None) -> None:
        raise NotImplementedError

    def record(self, event: str, payload: dict) -> None:
        raise NotImplementedError

    def _observe(self, event) -> None:
        raise NotImplementedError

    def barge_in(self, source: str, signal_ms: float, speaker: str | None = None) -> bool:
        """Clear and stop the AI at once; truncate at what was heard once Twilio confirms the
        clear (clearwatch)."""
        tracker = self.tracker
        if not tracker.is_speaking(signal_ms):
            return False
        self.settle_clear(float("inf"))  # an earlier cut still unconfirmed: its estimate stands
        watch = ClearWatch.begin(tracker, signal_ms)
        cut = tracker.clear(signal_ms)  # the item is dead: its later audio is dropped at once
        leg = self.leg
        if leg is not None:
            leg.send_clear(signal_ms)
        self._stop_backend()
        metrics.BARGE_INS.labels(source=source).inc()
        if watch is None:
            self._truncate(cut, source, speaker)
        else:
            watch.fallback = cut
            self.clear_watch = (watch, source, speaker)
        return True

    def on_old_mark(self, name: str, now_ms: float) -> None:
        """An echo of a mark from before a `clear`: it may confirm where playout stopped."""
        pending = self.clear_watch
        if pending is not None and (cut := pending[0].on_mark(name, now_ms)) is not None:
            self.clear_watch = None
            self._truncate(cut, pending[1], pending[2])

    def settle_clear(self, now_ms: float) -> None:
        """Fall back to the estimate when the clear's confirmation is overdue."""
        pending = self.clear_watch
        if pending is not None and (cut := pending[0].expired(now_ms)) is not None:
            self.clear_watch = None
            self._truncate(cut, pending[1], pending[2])

    def _stop_backend(self) -> None:
        """The model must not talk on while the clear's confirmation is awaited."""
        session = self.session
        stop = getattr(session, "stop_response", None)  # optional: truncate alone also works
        if stop is None or not self.ready:
            return
        try:
            stop()
        except Exception:  # the truncate still follows; a failed cancel is no reason to hang up
            metrics.BACKEND_FAILURES.labels(code="stop_response").inc()
            log.warning("agent backend could not stop its response", exc_info=True)

    def _truncate(self, cut: Truncation, source: str, speaker: str | None) -> None:
        session = self.session
        if session is not None and self.ready:
            try:
                session.truncate(cut.heard_ms, cut.item_id)
            except Exception as exc:
                self.failed("truncate", exc)
        self.record("barge-in", {"source": source, "speaker": speaker, "item_id": cut.item_id,
                                 "heard_ms": cut.heard_ms, "flushed_ms": cut.flushed_ms})
        self._observe(cut)  # the AI's line is stored as heard, marked interrupted
