"""The three pipeline stages as small interfaces, so online and offline parts swap freely."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


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
    meta: dict = field(default_factory=dict)


class SpeechToText(Protocol):
    """Turns an utterance into text."""

    def transcribe(self, pcm: bytes) -> Iterator[tuple[str, bool]]:
        """Yield (text, final) pairs for 8 kHz PCM16; the last one is final."""


class Responder(Protocol):
    """The LLM stage: chat history in, streamed text deltas and tool requests out."""

    def respond(self, messages: list[dict]) -> Iterator[str | ToolRequest]:
        """Stream the reply to `messages` (OpenAI chat format)."""


class TextToSpeech(Protocol):
    """Speaks text as 8 kHz mu-law."""

    def synthesize(self, text: str) -> Iterator[bytes]:
        """Yield 8 kHz mu-law chunks of `text` as they become available."""
