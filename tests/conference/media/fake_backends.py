"""Test-only AI backends (registered inside the app-under-test process)."""
from __future__ import annotations

from agents.base import AudioOut, SpeechStarted, ToolCall, Transcript
from agents.echo import EchoSession
from agents.pipeline.metrics import TurnMetrics
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


SILENT = b"\xff" * 160


def talk_frame(i: int) -> bytes:
    """Frame `i` of the talker's utterance: unique, never silence."""
    return bytes([i % 250, 7]) * 80


class Talker(EchoSession):
    """Says a 3 s utterance at once (faster than real time, like TTS), then listens.

    Raises SpeechStarted the first time it hears a non-silent frame (its own "VAD").
    """

    def connect(self) -> None:
        super().connect()
        self._heard_voice = False
        self._events.put(AudioOut("talk-1", b"".join(talk_frame(i) for i in range(150))))

    def send_audio(self, ulaw: bytes) -> None:
        if ulaw != SILENT and not self._heard_voice:
            self._heard_voice = True
            self._events.put(SpeechStarted(speaker=None))

    def stop_response(self) -> None:
        """Talks on: its whole utterance was queued at connect."""


class Narrator(EchoSession):
    """Says one line on connect, with its transcript and turn metrics, then only listens."""

    def connect(self) -> None:
        super().connect()
        for event in (AudioOut("say-1", b"\x10" * 1600), Transcript("caller", "hello?", True),
                      Transcript("ai", "Welcome", False, "say-1"),
                      AudioOut("say-1", b"\x11" * 1600),
                      Transcript("ai", "Welcome to Forkline.", True, "say-1"),
                      TurnMetrics("say-1", "narrator", 11.0, 22.0, 33.0, 44.0)):
            self._events.put(event)

    def send_audio(self, ulaw: bytes) -> None:
        self.heard_bytes += len(ulaw)


class ToolCaller(EchoSession):
    """Asks for a tool on connect; says the tool's answer (an AI line) once it comes back."""

    def connect(self) -> None:
        super().connect()
        self._events.put(ToolCall("call-7", "format_disk", {}))

    def send_audio(self, ulaw: bytes) -> None:
        """Only listens."""

    def send_tool_result(self, call_id: str, output: dict) -> None:
        text = f"{call_id}: {output.get('error') or output}"
        self._events.put(AudioOut("answer", b"\x21" * 1600))
        self._events.put(Transcript("ai", text, True, "answer"))


def register_all() -> None:
    """Make the fakes available by name."""
    register("flaky", FlakyEcho)
    register("broken", BrokenEcho)
    register("talker", Talker)
    register("narrator", Narrator)
    register("toolcaller", ToolCaller)
