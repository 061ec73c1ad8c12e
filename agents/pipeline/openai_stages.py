"""OpenAI stages over HTTP with the openai SDK: streaming transcription, chat and speech."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import openai

from agents import tools
from agents.audio import UlawEncoder, wav_bytes
from agents.base import AgentError, AgentProfile
from agents.pipeline.stages import ToolRequest

STT_MODEL = "gpt-4o-transcribe"
CHAT_MODEL = "gpt-4o-mini"
TTS_MODEL = "gpt-4o-mini-tts"
TTS_RATE = 24000  # response_format="pcm" is raw 24 kHz s16le mono
TTS_READ_BYTES = 4800  # 100 ms at 24 kHz


def make_client(settings: Mapping[str, Any]) -> openai.OpenAI:
    """An SDK client from plain settings (OPENAI_API_KEY, OPENAI_BASE_URL)."""
    return openai.OpenAI(
        api_key=settings.get("OPENAI_API_KEY"),
        base_url=settings.get("OPENAI_BASE_URL") or None,
        timeout=float(settings.get("OPENAI_TIMEOUT_S", 10.0)),
        max_retries=int(settings.get("OPENAI_MAX_RETRIES", 0)),  # a retry is worse than a reply
    )


def _failure(stage: str, exc: Exception) -> AgentError:
    status = getattr(exc, "status_code", None)
    detail = f"HTTP {status}" if status else type(exc).__name__
    return AgentError(f"{stage}_failed", f"OpenAI {stage}: {detail}")


class OpenAISTT:
    """`audio.transcriptions.create(stream=True)` on a WAV of the utterance."""

    def __init__(self, client: openai.OpenAI, model: str = STT_MODEL) -> None:
        self.client, self.model = client, model

    def transcribe(self, pcm: bytes) -> Iterator[tuple[str, bool]]:
        """Yield growing partial text, then the final text."""
        wav = wav_bytes(pcm, 8000)
        try:
            stream = self.client.audio.transcriptions.create(
                model=self.model, file=("utterance.wav", wav, "audio/wav"), stream=True
            )
            text = ""
            for event in stream:
                if event.type == "transcript.text.delta":
                    text += event.delta
                    yield text, False
                elif event.type == "transcript.text.done":
                    yield event.text, True
                    return
        except openai.OpenAIError as exc:
            raise _failure("stt", exc) from exc
        yield text, True


class OpenAIChat:
    """Streaming chat completions with the profile's tools."""

    def __init__(self, client: openai.OpenAI, profile: AgentProfile, model: str = CHAT_MODEL):
        self.client, self.model = client, model
        self.tools = [
            {"type": "function", "function": {k: v for k, v in spec.items() if k != "type"}}
            for spec in tools.schemas(profile.tools)
        ]

    def respond(self, messages: list[dict]) -> Iterator[str | ToolRequest]:
        """Yield content deltas as they stream, then any tool calls (arguments concatenated)."""
        extra = {"tools": self.tools} if self.tools else {}
        calls: dict[int, dict] = {}
        try:
            stream = self.client.chat.completions.create(
                model=self.model, messages=messages, stream=True, **extra
            )
            for chunk in stream:
                if not chunk.choices:  # the usage-only chunk
                    continue
                delta = chunk.choices[0].delta
                if delta.content:
                    yield delta.content
                for call in delta.tool_calls or ():
                    slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = call.id or slot["id"]
                    if call.function is not None:
                        slot["name"] = call.function.name or slot["name"]
                        slot["arguments"] += call.function.arguments or ""
        except openai.OpenAIError as exc:
            raise _failure("llm", exc) from exc
        for _, call in sorted(calls.items()):
            yield ToolRequest(call["id"], call["name"], call["arguments"] or "{}")


class OpenAISpeech:
    """`audio.speech` with response_format="pcm", streamed and resampled to 8 kHz mu-law."""

    def __init__(self, client: openai.OpenAI, voice: str, model: str = TTS_MODEL) -> None:
        self.client, self.voice, self.model = client, voice, model

    def synthesize(self, text: str) -> Iterator[bytes]:
        """Yield mu-law chunks as the PCM arrives (odd bytes carried by the encoder)."""
        encoder = UlawEncoder(TTS_RATE)
        try:
            with self.client.audio.speech.with_streaming_response.create(
                model=self.model, voice=self.voice, input=text, response_format="pcm"
            ) as response:
                for chunk in response.iter_bytes(chunk_size=TTS_READ_BYTES):
                    out = encoder.process(chunk)
                    if out:
                        yield out
        except openai.OpenAIError as exc:
            raise _failure("tts", exc) from exc


def build(profile: AgentProfile, settings: Mapping[str, Any]):
    """(stt, responder, tts) talking to OpenAI (or whatever OPENAI_BASE_URL points at)."""
    client = make_client(settings)
    return (
        OpenAISTT(client, settings.get("PIPELINE_STT_MODEL") or STT_MODEL),
        OpenAIChat(client, profile, settings.get("PIPELINE_CHAT_MODEL") or CHAT_MODEL),
        OpenAISpeech(client, profile.voice, settings.get("PIPELINE_TTS_MODEL") or TTS_MODEL),
    )
