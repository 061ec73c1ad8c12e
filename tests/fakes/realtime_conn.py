"""One fake Realtime server session: VAD, scripted responses, function calls, truncation rules."""
from __future__ import annotations

import asyncio
import audioop
import base64
import itertools
import json
import math
import struct
import time

from tests.fakes.realtime_schema import check_client_event, check_server_event, error_body

_ids = itertools.count(1)
FRAME = 160  # 20 ms of 8 kHz mu-law


def tone_ulaw(ms: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    """A sine tone as 8 kHz mu-law (loud enough for the fake's VAD)."""
    samples = (int(amplitude * math.sin(2 * math.pi * freq * n / 8000)) for n in range(ms * 8))
    return audioop.lin2ulaw(b"".join(struct.pack("<h", s) for s in samples), 2)


def silence_ulaw(ms: int) -> bytes:
    """Digital silence as 8 kHz mu-law."""
    return b"\xff" * (ms * 8)


def new_id(prefix: str) -> str:
    """A fresh id like the API's (`item_00042`)."""
    return f"{prefix}_{next(_ids):05d}"


def default_session(model: str) -> dict:
    """What session.created carries before any update: pcm16 at 24 kHz, like the real API."""
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {"type": "realtime", "object": "realtime.session", "id": new_id("sess"),
            "model": model, "output_modalities": ["audio"], "instructions": "", "tools": [],
            "tool_choice": "auto", "max_output_tokens": "inf", "tracing": None,
            "expires_at": 0, "audio": {"input": {"format": pcm, "turn_detection": None},
                                       "output": {"format": pcm, "voice": "alloy"}}}


def merge(base: dict, update: dict) -> dict:
    """Deep-merge a session.update into the current session."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def response_body(rid: str, status: str, output: list, reason: str | None = None) -> dict:
    """A RealtimeResponse object."""
    details = {"type": status, "reason": reason} if reason else None
    return {"object": "realtime.response", "id": rid, "status": status, "status_details": details,
            "output": output, "conversation_id": "conv_1", "output_modalities": ["audio"],
            "max_output_tokens": "inf", "audio": {"output": {"format": {"type": "audio/pcmu"},
                                                             "voice": "alloy"}},
            "usage": None, "metadata": None}


class FakeConnection:
    """Protocol state for one WebSocket; all methods run on the fake's event loop."""

    def __init__(self, fake, ws, model: str, record: dict) -> None:
        self.fake, self.ws, self.record = fake, ws, record
        self.session = default_session(model)
        self.items: dict[str, dict] = {}
        self.response_id: str | None = None
        self.cancel_reason: str | None = None
        self.pos_ms = self.buffer_ms = self.silence_ms = 0
        self.speaking = False
        self.speech_item: str | None = None
        self.last_speech_at = 0.0
        self.carry = b""

    async def send(self, event: dict) -> None:
        """Send one server event after checking it against the SDK model for its type."""
        event.setdefault("event_id", new_id("event"))
        check_server_event(event)
        self.fake._note_sent(event)
        await self.ws.send(json.dumps(event))

    async def error(self, body: dict) -> None:
        """Send an error event (the socket stays open, like the real API)."""
        await self.send({"type": "error", "error": body})

    async def handle(self, raw: str) -> None:
        """Validate and act on one client message."""
        try:
            event = json.loads(raw)
        except ValueError:
            await self.error(error_body("invalid_json", "We could not parse the JSON body."))
            return
        self.fake._note_received(event, self.record)
        problem = check_client_event(event)
        if problem:
            await self.error(problem)
            return
        handler = getattr(self, "on_" + event["type"].replace(".", "_"), None)
        if handler is not None:
            await handler(event)

    async def on_session_update(self, event: dict) -> None:
        self.session = merge(self.session, event["session"])
        await self.send({"type": "session.updated", "session": self.session})

    async def on_input_audio_buffer_append(self, event: dict) -> None:
        data = self.carry + base64.b64decode(event["audio"])
        whole = len(data) - len(data) % FRAME
        self.carry = data[whole:]
        vad = (self.session["audio"]["input"].get("turn_detection") or {}).get("type")
        pcmu = self.session["audio"]["input"]["format"]["type"] == "audio/pcmu"
        for start in range(0, whole, FRAME):
            self.pos_ms += 20
            self.buffer_ms += 20
            if vad == "server_vad" and pcmu:
                await self._vad(data[start:start + FRAME])

    async def _vad(self, frame: bytes) -> None:
        loud = audioop.rms(audioop.ulaw2lin(frame, 2), 2) > self.fake.vad_threshold
        detection = self.session["audio"]["input"]["turn_detection"]
        if loud:
            self.silence_ms = 0
            self.last_speech_at = time.monotonic()
            if not self.speaking:
                self.speaking, self.speech_item = True, new_id("item")
                await self.send({"type": "input_audio_buffer.speech_started",
                                 "audio_start_ms": max(0, self.pos_ms - 20),
                                 "item_id": self.speech_item})
                if self.response_id and detection.get("interrupt_response", True):
                    self.cancel_reason = "turn_detected"
            return
        if not self.speaking:
            return
        self.silence_ms += 20
        if self.silence_ms >= detection.get("silence_duration_ms", 500):
            self.speaking = False
            await self.send({"type": "input_audio_buffer.speech_stopped",
                             "audio_end_ms": self.pos_ms, "item_id": self.speech_item})
            await self._commit(self.speech_item)
            if detection.get("create_response", True) and not self.response_id:
                self._start_response(self.last_speech_at)

    async def _commit(self, item_id: str) -> None:
        self.buffer_ms = 0
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "user",
                "status": "completed", "content": [{"type": "input_audio", "transcript": None}]}
        self.items[item_id] = item
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id,
                         "previous_item_id": None})
        await self.send({"type": "conversation.item.added", "item": item,
                         "previous_item_id": None})
        if self.session["audio"]["input"].get("transcription"):
            await self.send({"type": "conversation.item.input_audio_transcription.completed",
                             "item_id": item_id, "content_index": 0,
                             "transcript": self.fake.caller_transcript,
                             "usage": {"type": "duration", "seconds": 1.0}})

    async def on_input_audio_buffer_commit(self, event: dict) -> None:
        if self.buffer_ms < 100:
            await self.error(error_body(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                f"of audio, but buffer only has {float(self.buffer_ms):.2f}ms of audio.",
                event_id=event.get("event_id")))
            return
        await self._commit(new_id("item"))

    async def on_input_audio_buffer_clear(self, event: dict) -> None:
        self.buffer_ms = 0
        await self.send({"type": "input_audio_buffer.cleared"})

    async def on_conversation_item_create(self, event: dict) -> None:
        item = dict(event["item"], object="realtime.item")
        item.setdefault("id", new_id("item"))
        item.setdefault("status", "completed")
        self.items[item["id"]] = item
        await self.send({"type": "conversation.item.added", "item": item,
                         "previous_item_id": None})
        await self.send({"type": "conversation.item.done", "item": item,
                         "previous_item_id": None})

    async def on_conversation_item_truncate(self, event: dict) -> None:
        item_id, end_ms = event["item_id"], event["audio_end_ms"]
        item = self.items.get(item_id)
        body = None
        if item is None:
            body = error_body("item_truncate_invalid_item_id",
                              f"Error truncating item: the item with id '{item_id}' does not "
                              "exist.", "item_id")
        elif item.get("role") != "assistant" or "audio_ms" not in item:
            body = error_body("unsupported_content_type",
                              "Only model output audio messages can be truncated", "item_id")
        elif end_ms < 0:
            body = error_body("integer_below_min_value", "Invalid 'audio_end_ms': integer "
                              f"below minimum value. Expected a value >= 0, but got {end_ms}.",
                              "audio_end_ms")
        elif end_ms > item["audio_ms"]:
            body = error_body("invalid_value", f"Audio content of {item['audio_ms']}ms is "
                              f"already shorter than {end_ms}ms")
        if body is not None:
            body["event_id"] = event.get("event_id")
            await self.error(body)
            return
        self.fake.truncations.append((item_id, end_ms))
        await self.send({"type": "conversation.item.truncated", "item_id": item_id,
                         "content_index": 0, "audio_end_ms": end_ms})

    async def on_response_create(self, event: dict) -> None:
        if self.response_id:
            await self.error(error_body(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.response_id}."
                " Wait until the response is finished before creating a new one.",
                event_id=event.get("event_id")))
            return
        self._start_response(None)

    async def on_response_cancel(self, event: dict) -> None:
        if not self.response_id:
            await self.error(error_body("response_cancel_not_active",
                                        "Cancellation failed: no active response found",
                                        event_id=event.get("event_id")))
            return
        self.cancel_reason = self.cancel_reason or "client_cancelled"

    def _start_response(self, speech_end_at: float | None) -> None:
        self.response_id, self.cancel_reason = new_id("resp"), None
        asyncio.ensure_future(self.fake._responder(self, self.response_id, speech_end_at))
