"""Test-only AI backends (registered inside the app-under-test process)."""
from __future__ import annotations

from agents.echo import EchoSession
from agents.registry import register


class FlakyEcho(EchoSession):
    """Echo whose connect() fails the first AI_FLAKY_FAILS times (a backend outage)."""

    failures_left: int | None = None

    def connect(self) -> None:
        if FlakyEcho.failures_left is None:
            FlakyEcho.failures_left = int(self.settings.get("AI_FLAKY_FAILS", 3))
        if FlakyEcho.failures_left > 0:
            FlakyEcho.failures_left -= 1
            raise ConnectionError("backend unreachable (test)")
        super().connect()


class BrokenEcho(EchoSession):
    """A backend that always errors on use: the call must survive it."""

    def send_audio(self, ulaw: bytes) -> None:
        raise RuntimeError("backend exploded (test)")


def register_all() -> None:
    """Make the fakes available by name."""
    register("flaky", FlakyEcho)
    register("broken", BrokenEcho)
