"""Builders for GA Realtime client events (plain dicts shaped like the openai SDK's params)."""
from __future__ import annotations

import base64
import json

from agents import tools
from agents.base import AgentProfile

DEFAULT_MODEL = "gpt-realtime"
REALTIME_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
)
PCMU = {"type": "audio/pcmu"}


def session_update(profile: AgentProfile, silence_ms: int = 500) -> dict:
    """The GA session.update: mu-law in and out (no transcoding), server VAD, profile settings."""
    # Voices outside the Realtime set come out as noise over Twilio (peers: agents-python #1941).
    voice = profile.voice if profile.voice in REALTIME_VOICES else "alloy"
    session = {
        "type": "realtime",
        "instructions": profile.instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": dict(PCMU),
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": silence_ms,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": dict(PCMU), "voice": voice},
        },
        "tools": tools.schemas(profile.tools),
        "tool_choice": "auto",
    }
    return {"type": "session.update", "session": session}


def audio_append(ulaw: bytes) -> dict:
    """input_audio_buffer.append carrying mu-law bytes untouched."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(ulaw).decode("ascii")}


def response_create(instructions: str | None = None) -> dict:
    """response.create, optionally with per-response instructions (used for the greeting)."""
    if instructions is None:
        return {"type": "response.create"}
    return {"type": "response.create", "response": {"instructions": instructions}}


def greeting(text: str) -> dict:
    """The response that makes the AI open the call with the profile's greeting."""
    return response_create(f"Greet the caller by saying exactly: {text}")


def response_cancel() -> dict:
    """response.cancel for the active response."""
    return {"type": "response.cancel"}


def truncate(item_id: str, audio_end_ms: int) -> dict:
    """conversation.item.truncate of assistant audio item `item_id` at `audio_end_ms`."""
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": int(audio_end_ms),
    }


def text_item(speaker: str, text: str) -> dict:
    """A transcript turn re-seeded as a conversation item (used after a reconnect)."""
    if speaker == "ai":
        item = {"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": text}]}
    else:
        item = {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item}


def function_output(call_id: str, output: dict) -> dict:
    """conversation.item.create with a function_call_output (a JSON string, as the API wants)."""
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call_id, "output": json.dumps(output)},
    }
