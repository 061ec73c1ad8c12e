"""Echo backend: speaks back exactly what it hears, for tests and benchmarks."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.base import AgentProfile, AudioOut, ResponseDone
from agents.outbox import Outbox, OutboxEvents


class EchoSession(OutboxEvents):
    """Every chunk heard comes back as AudioOut of item `echo-<n>`; a stop starts a new item."""

    def __init__(self, profile: AgentProfile, settings: Mapping[str, Any]) -> None:
        self.profile = profile
        self.settings = settings
        self._events = Outbox()
        self._item = 1
        self._open = False
        self.interrupts: list[tuple[int, str | None]] = []
        self.heard_bytes = 0

    def connect(self) -> None:
        """Nothing to open."""
        self._open = True

    def send_audio(self, ulaw: bytes) -> None:
        """Queue the audio to be spoken back."""
        if self._open:
            self.heard_bytes += len(ulaw)
            self._events.put(AudioOut(f"echo-{self._item}", ulaw))

    def stop_response(self) -> None:
        """Finish the current item; later audio belongs to a new one."""
        self._events.put(ResponseDone(f"echo-{self._item}", "cancelled"))
        self._item += 1

    def truncate(self, heard_ms: int, item_id: str | None = None) -> None:
        """Note what the caller heard (tests and benchmarks read `interrupts`)."""
        self.interrupts.append((heard_ms, item_id))

    def send_tool_result(self, call_id: str, output: dict) -> None:
        """Echo has no tools."""

    def close(self) -> None:
        """Stop echoing; wakes a blocked next_event()."""
        if self._open:
            self._open = False
            self._events.end()
