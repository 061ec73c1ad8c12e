"""The three pipeline stages as small interfaces, so online and offline parts swap freely."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """The LLM wants tool `name` run; `arguments` is the raw JSON text it produced."""

    call_id: str
    name: str
    arguments: str = "{}"


@dataclass(slots=True)
class Utterance:
    """One endpointed stretch of caller speech: 8 kHz PCM16 and where it sits in the stream."""

    pcm: bytes
    start_ms: int
    end_ms: int
    ended_at: float = 0.0  # monotonic time the last voiced frame arrived (for latency)
    streamed: bool = False  # its audio was already fed to a streaming STT


class SpeechToText(Protocol):
    """Turns an utterance into text."""

    def transcribe(self, pcm: bytes) -> Iterator[tuple[str, bool]]:
        """Yield (text, final) pairs for 8 kHz PCM16; the last one is final."""


@runtime_checkable
class StreamingSpeechToText(Protocol):
    """An STT that can decode while the caller is still talking (lower end-of-turn latency)."""

    def start(self) -> None:
        """Begin an utterance."""

    def feed(self, pcm: bytes) -> None:
        """More 8 kHz PCM16 of the utterance."""

    def finish(self) -> Iterator[tuple[str, bool]]:
        """End the utterance; yield (text, final) pairs, the last one final."""


class Responder(Protocol):
    """The LLM stage: chat history in, streamed text deltas and tool requests out."""

    def respond(self, messages: list[dict]) -> Iterator[str | ToolRequest]:
        """Stream the reply to `messages` (OpenAI chat format)."""


class TextToSpeech(Protocol):
    """Speaks text as 8 kHz mu-law."""

    def synthesize(self, text: str) -> Iterator[bytes]:
        """Yield 8 kHz mu-law chunks of `text` as they become available."""
