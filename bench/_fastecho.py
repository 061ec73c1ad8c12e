"""Bench-only experiment for recommendation 7 (bench/README.md): the echo agent without a gevent
timer per poll. Installed in the worker by `media_bench --hook fastecho` in place of `echo`."""
from __future__ import annotations

from agents.base import AgentEvent
from agents.echo import _CLOSED, EchoSession


class FastEchoSession(EchoSession):
    """EchoSession whose non-blocking polls never arm a timer or raise queue.Empty."""

    def next_event(self, timeout: float | None = None) -> AgentEvent | None:
        """As EchoSession.next_event; `timeout=0` on an empty queue returns None at once."""
        if timeout == 0:
            if self._events.empty():
                return None
            event = self._events.get_nowait()
            if event is _CLOSED:
                self._events.put(_CLOSED)
                return None
            return event
        return super().next_event(timeout)
