"""A session's events on their way to its host: pulled with get(), or announced to a listener.

Every backend queues what it produces (audio, transcripts, failures) here. A host either pulls
(`get`, blocking or not), or registers a listener once and pulls only when told: then it needs
no reader of its own blocked in `get` for the whole call (under gevent a greenlet with its
saved C stack and Python data stack per AI call: bench/README.md, memory per stream).
"""
from __future__ import annotations

import queue
from collections.abc import Callable

from agents.base import AgentEvent

_END = object()


class Outbox:
    """FIFO of AgentEvents plus an end marker; `listener()` runs after every put and at the end."""

    __slots__ = ("_queue", "_ended", "_listener")

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._ended = False
        self._listener: Callable[[], None] | None = None

    def put(self, event: AgentEvent) -> None:
        """Queue an event (dropped once ended) and tell the listener."""
        if self._ended:
            return
        self._queue.put(event)
        self._announce()

    def end(self) -> None:
        """No more events: what is queued stays readable, then get() returns None for good."""
        if self._ended:
            return
        self._ended = True
        self._queue.put(_END)  # wakes a blocked get() once the events before it are read
        self._announce()

    @property
    def finished(self) -> bool:
        """True once end() ran: a get(0) of None then means the session is over."""
        return self._ended

    def listen(self, listener: Callable[[], None] | None) -> None:
        """Call `listener()` (no arguments) after each event from now on; None stops it."""
        self._listener = listener
        if listener is not None and not self._queue.empty():
            listener()  # what was queued before anyone listened

    def get(self, timeout: float | None = None) -> AgentEvent | None:
        """The next event; None on timeout, or after the end. timeout=0 never blocks."""
        events = self._queue
        if timeout == 0:
            # A poll must not arm a gevent timer nor throw Empty through the hub: hosts drain
            # with get(0) after every frame (bench/README.md, recommendation 7).
            if events.empty():
                return None
            event = events.get_nowait()
        else:
            try:
                event = events.get(timeout=timeout)
            except queue.Empty:
                return None
        if event is _END:
            events.put(_END)  # later callers return at once too
            return None
        return event

    def _announce(self) -> None:
        listener = self._listener
        if listener is not None:
            listener()
