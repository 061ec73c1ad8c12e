"""A session's events on their way to its host: pulled with get(), or announced to a listener.

Every backend queues what it produces (audio, transcripts, failures) here. A host either pulls
(`get`, blocking or not), or registers a listener once and pulls only when told: then it needs
no reader of its own blocked in `get` for the whole call (under gevent a greenlet with its
saved C stack and Python data stack per AI call: bench/README.md, memory per stream).
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from agents.base import AgentEvent

_END = object()
_MAKING = threading.Lock()  # makes each box's condition once, for its first blocking get


class Outbox:
    """FIFO of AgentEvents plus an end marker; `listener()` runs after every put and at the end.

    A plain list, and a Condition only once someone blocks in get(): a listened-to box (the
    product's case) costs ~100 bytes, where a gevent queue cost ~2 KB per AI call."""

    __slots__ = ("_items", "_ended", "_listener", "_cond")

    def __init__(self) -> None:
        self._items: list = []
        self._ended = False
        self._listener: Callable[[], None] | None = None
        self._cond: threading.Condition | None = None

    def put(self, event: AgentEvent) -> None:
        """Queue an event (dropped once ended) and tell the listener."""
        if self._ended:
            return
        self._push(event)

    def end(self) -> None:
        """No more events: what is queued stays readable, then get() returns None for good."""
        if self._ended:
            return
        self._ended = True
        self._push(_END)  # wakes a blocked get() once the events before it are read

    @property
    def finished(self) -> bool:
        """True once end() ran: a get(0) of None then means the session is over."""
        return self._ended

    def listen(self, listener: Callable[[], None] | None) -> None:
        """Call `listener()` (no arguments) after each event from now on; None stops it."""
        self._listener = listener
        if listener is not None and self._items:
            listener()  # what was queued before anyone listened

    def get(self, timeout: float | None = None) -> AgentEvent | None:
        """The next event; None on timeout, or after the end. timeout=0 never blocks."""
        items = self._items
        if not items and timeout != 0:
            cond = self._cond or self._make_cond()
            with cond:
                cond.wait_for(lambda: items, timeout)
        if not items:
            return None
        if items[0] is _END:
            return None  # it stays: later callers return at once too
        return items.pop(0)

    def _push(self, item: object) -> None:
        self._items.append(item)  # atomic: a getter that checked the list under the
        cond = self._cond  # condition is waiting by the time notify() can take the lock
        if cond is not None:
            with cond:
                cond.notify_all()
        listener = self._listener
        if listener is not None:
            listener()

    def _make_cond(self) -> threading.Condition:
        with _MAKING:
            if self._cond is None:
                self._cond = threading.Condition()
            return self._cond


class OutboxEvents:
    """The event side of an AgentSession whose events go through an Outbox in `_events`."""

    _events: Outbox

    def next_event(self, timeout: float | None = None) -> AgentEvent | None:
        """The next event, or None on timeout or after the end (timeout=0 never blocks)."""
        return self._events.get(timeout)

    def listen(self, listener: Callable[[], None] | None) -> None:
        """Call `listener()` whenever an event is queued."""
        self._events.listen(listener)

    @property
    def finished(self) -> bool:
        """True once closed or ended by the backend."""
        return self._events.finished
