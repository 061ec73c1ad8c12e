"""The one interface every AI backend implements; knows nothing of Twilio, Flask or the database.

A session is driven by one bridge (the AI-leg socket). Audio in and out is 8 kHz mu-law, in any
whole number of 20 ms frames. Events are pulled with `next_event()`; a host that registers a
listener (`listen`) is told after each one and pulls only then (agents/outbox.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class AudioOut:
    """Audio the AI speaks: 8 kHz mu-law bytes belonging to response item `item_id`."""

    item_id: str
    ulaw: bytes


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The backend heard someone start talking (its own VAD): a barge-in signal."""

    speaker: str | None = None
    audio_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """The backend heard the talker stop."""

    speaker: str | None = None
    audio_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """Text of what `speaker` said ("ai" for the agent itself); `final` once it is settled."""

    speaker: str
    text: str
    final: bool
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks the host to run tool `name` with `arguments` (already JSON-decoded)."""

    call_id: str
    name: str
    arguments: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """The AI finished (or abandoned) response item `item_id`."""

    item_id: str | None
    status: str = "completed"


@dataclass(frozen=True, slots=True)
class AgentFailure:
    """A backend error; `fatal` means the session cannot continue without a reconnect."""

    code: str
    message: str
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    """Latencies of one turn in ms (None when a stage did not run), from pipeline backends."""

    item_id: str
    backend: str
    stt_ms: float | None = None
    llm_first_token_ms: float | None = None
    tts_first_audio_ms: float | None = None
    end_to_end_ms: float | None = None

    def as_row(self) -> dict:
        """Column values for a TurnMetric row (without conference id)."""
        row = asdict(self)
        row.pop("item_id")
        return row


AgentEvent = (
    AudioOut | SpeechStarted | SpeechStopped | Transcript | ToolCall | ResponseDone | AgentFailure
    | TurnMetrics
)


class AgentError(RuntimeError):
    """A backend could not do what was asked (connect, send); carries a short code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What the AI is: instructions, voice, greeting, tool names and a small FAQ."""

    name: str = "default"
    instructions: str = "You are a helpful assistant on a phone call. Be brief."
    voice: str = "alloy"
    greeting: str | None = None
    tools: tuple[str, ...] = ()
    faq: tuple[tuple[str, str], ...] = ()
    backend: str | None = None  # None: the deployment's AI_BACKEND


@runtime_checkable
class AgentSession(Protocol):
    """One AI conversation. Constructors do no I/O; call connect() first."""

    profile: AgentProfile  # who the AI is in this conversation (its tools, voice, backend)

    def connect(self) -> None:
        """Open the backend (may block briefly); raises AgentError on failure."""

    def send_audio(self, ulaw: bytes) -> None:
        """Feed 8 kHz mu-law audio the AI hears; never blocks on the network."""

    # Barge-in is two steps: the media plane stops the AI the moment it decides, and learns
    # how much the caller really heard only once Twilio confirms its `clear` (up to 500 ms on).
    def stop_response(self) -> None:
        """Stop producing the current response now (barge-in decided); never blocks."""

    def truncate(self, heard_ms: int, item_id: str | None = None) -> None:
        """Only `heard_ms` of item `item_id` reached the caller: forget the rest of it."""

    def send_tool_result(self, call_id: str, output: dict) -> None:
        """Return the result of a ToolCall to the model."""

    def next_event(self, timeout: float | None = None) -> AgentEvent | None:
        """The next event, or None on timeout or once the session is closed."""

    def listen(self, listener: Callable[[], None] | None) -> None:
        """Call `listener()` from whatever greenlet queued an event, after each (None: stop)."""

    @property
    def finished(self) -> bool:
        """True once closed or ended by the backend: next_event(0) of None is then final."""

    def close(self) -> None:
        """Release the backend; idempotent."""
