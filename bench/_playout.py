"""Twilio's playout buffer as the bench's AI-leg clients emulate it on their asyncio loop.

Returned audio plays in real time; a `mark` is echoed once the audio queued before it has
played (at once when playout has caught up); `clear` flushes the audio and returns every
pending mark, as Twilio does.
"""
from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

RATE = 8000  # mu-law bytes per second


class PlayoutMarks:
    """When the buffered audio ends, and the marks waiting for it; `echo(name)` answers one."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.end = 0.0  # loop time at which everything buffered has played
        self.pending: deque[tuple[asyncio.TimerHandle, str]] = deque()  # in playout order

    def media(self, size: int, now: float) -> None:
        """`size` bytes of audio arrived at loop time `now`."""
        self.end = max(self.end, now) + size / RATE

    def mark(self, name: str, now: float) -> None:
        """A mark arrived at `now`: echoed once the audio before it has played."""
        if self.end <= now:
            self.echo(name)
        else:
            handle = asyncio.get_running_loop().call_at(self.end, self._due)
            self.pending.append((handle, name))

    def clear(self, now: float) -> None:
        """A clear arrived at `now`: the buffer is empty and every pending mark returns."""
        self.end = now
        while self.pending:
            handle, name = self.pending.popleft()
            handle.cancel()
            self.echo(name)

    def cancel(self) -> None:
        """The call ends: the pending marks are never echoed."""
        for handle, _ in self.pending:
            handle.cancel()
        self.pending.clear()

    def _due(self) -> None:
        if self.pending:
            _, name = self.pending.popleft()
            self.echo(name)
