"""Sessions opened early, while the TwiML webhook answers, and claimed by the AI socket later.

Opening the Realtime socket while the phone rings saves the handshake and session setup on the
first turn (peers: openclaw #85847). The pool is per process: it only helps when the AI
socket lands on the worker that answered the webhook, and unclaimed sessions are closed.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from agents.base import AgentError, AgentSession


class PrewarmPool:
    """Connected-early sessions keyed by the AI leg's CallSid, closed if unclaimed."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[AgentSession, float]] = {}

    def prewarm(self, key: str, factory: Callable[[], AgentSession],
                now: float | None = None) -> AgentSession:
        """Build a session now and connect it in the background; returns it at once."""
        now = time.monotonic() if now is None else now
        self.sweep(now)
        session = factory()
        with self._lock:
            previous = self._sessions.pop(key, None)
            self._sessions[key] = (session, now + self.ttl_s)
        if previous is not None:
            previous[0].close()
        threading.Thread(target=_connect_quietly, args=(session,), daemon=True).start()
        return session

    def claim(self, key: str) -> AgentSession | None:
        """The pre-warmed session for `key` (connect() on it is cheap or waits), or None."""
        with self._lock:
            entry = self._sessions.pop(key, None)
        return entry[0] if entry else None

    def sweep(self, now: float | None = None) -> int:
        """Close sessions nobody claimed in time; returns how many."""
        now = time.monotonic() if now is None else now
        with self._lock:
            expired = [k for k, (_, deadline) in self._sessions.items() if deadline <= now]
            sessions = [self._sessions.pop(k)[0] for k in expired]
        for session in sessions:
            session.close()
        return len(sessions)


def _connect_quietly(session: AgentSession) -> None:
    # A failure here is retried by the claimer's own connect(); nothing to report yet.
    with contextlib.suppress(AgentError):
        session.connect()


POOL = PrewarmPool()
