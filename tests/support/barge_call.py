"""BargeIn without a media plane, socket or reconnecting backend: marks are driven by hand."""
from __future__ import annotations

from conference.media.barge import BargeIn
from conference.media.playout import PER_MS, PlayoutTracker


class RecordingSession:
    """A backend that notes the two barge-in steps in the order they reach it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @property
    def interrupts(self) -> list[tuple[int, str | None]]:
        """The truncations, (heard_ms, item_id), in order."""
        return [call[1:] for call in self.calls if call[0] == "truncate"]

    def stop_response(self) -> None:
        self.calls.append(("stop",))

    def truncate(self, heard_ms: int, item_id: str | None = None) -> None:
        self.calls.append(("truncate", heard_ms, item_id))


class Call(BargeIn):
    """The state BargeIn works on; `failures` lists what LiveCall.failed would have been told."""

    def __init__(self, session=None) -> None:
        self.tracker = PlayoutTracker(lead_ms=300, mark_interval_ms=100, chunk_ms=100)
        self.backend = session if session is not None else RecordingSession()
        self.leg, self.session, self.ready = None, self.backend, True
        self.clear_watch = None
        self.events: list[tuple[str, dict]] = []
        self.observed: list = []
        self.failures: list[str] = []

    def failed(self, where: str, exc: BaseException | None) -> None:
        self.failures.append(where)

    def record(self, event: str, payload: dict) -> None:
        self.events.append((event, payload))

    def _observe(self, event) -> None:
        self.observed.append(event)


def speaking(call: Call, ms: int = 1000, item_id: str = "a") -> None:
    """The AI has `ms` of item `item_id` queued; 300 ms sent at t=0, marks g1-s1..s3."""
    call.tracker.push(item_id, bytes(ms * PER_MS))
    call.tracker.pull(0)
