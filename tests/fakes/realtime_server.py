"""A local fake of the OpenAI Realtime WebSocket API (GA protocol) for the real openai SDK.

    with RealtimeFake() as fake:
        settings = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.http_base_url}
        ...
        fake.kill_active(code=1011)         # drop the socket mid-call
        fake.force_function_call("end_call", {})
        fake.wait_for(lambda: fake.truncations)

It runs its own asyncio loop on a thread, on an ephemeral port. Every client event is checked
against the SDK's pydantic models (see realtime_schema), every server event too.
Run `python -m tests.fakes.realtime_server` to serve one from a separate process.
"""
from __future__ import annotations

import asyncio
import base64
import json
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from tests.fakes.realtime_conn import (  # noqa: F401 - tone/silence re-exported
    FakeConnection,
    new_id,
    response_body,
    silence_ulaw,
    tone_ulaw,
)
from tests.fakes.realtime_schema import error_body


class RealtimeFake:
    """The fake server plus test controls; use as a context manager."""

    def __init__(self, reply_ms: int = 1000, chunk_ms: int = 100) -> None:
        self.reply_text = "Hello, how can I help you today?"
        self.reply_audio = tone_ulaw(reply_ms, freq=330.0)
        self.chunk_ms = chunk_ms
        self.delta_interval_s = 0.005  # generation pace per chunk (real API: faster than real time)
        self.response_delay_s = 0.0  # model "thinking" time before the first delta
        self.caller_transcript = "What are your opening hours?"
        self.vad_threshold = 300
        self.events_received: list[dict] = []
        self.events_sent: list[dict] = []
        self.connections: list[dict] = []
        self.truncations: list[tuple[str, int]] = []
        self.turns: list[dict] = []  # per VAD-triggered response: its own response time
        self._forced_calls: list[tuple[str, str]] = []
        self._live: set[FakeConnection] = set()
        self._cond = threading.Condition()
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> RealtimeFake:
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("realtime fake did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set_result, None)
        self._thread.join(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main(started))
        self._loop.close()

    async def _main(self, started: threading.Event) -> None:
        self._stopping = self._loop.create_future()
        async with serve(self._handler, "127.0.0.1", 0, max_size=None,
                         process_request=self._check_request) as server:
            self.port = server.sockets[0].getsockname()[1]
            started.set()
            await self._stopping

    @property
    def ws_base_url(self) -> str:
        """WebSocket base for `websocket_base_url` (the SDK appends /realtime)."""
        return f"ws://127.0.0.1:{self.port}/v1"

    @property
    def http_base_url(self) -> str:
        """HTTP base for `base_url`; the SDK derives the same WebSocket URL from it."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def active_connections(self) -> int:
        """Sockets currently open."""
        return len(self._live)

    # -- test controls -----------------------------------------------------------------------

    def kill_active(self, code: int = 1011) -> int:
        """Drop every live socket with close `code` (1006: abort without a close frame)."""
        return self._call(self._kill(code))

    def expire_active(self) -> int:
        """End every live session the way the 60-minute limit does."""
        return self._call(self._expire())

    def force_function_call(self, name: str, arguments: dict | str) -> None:
        """Make the next response a call of tool `name` (a str is sent verbatim, even if bad)."""
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        self._forced_calls.append((name, raw))

    def received(self, etype: str) -> list[dict]:
        """Client events of type `etype` received so far (all connections)."""
        with self._cond:
            return [e for e in self.events_received if e.get("type") == etype]

    def sent(self, etype: str) -> list[dict]:
        """Server events of type `etype` sent so far."""
        with self._cond:
            return [e for e in self.events_sent if e.get("type") == etype]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Block until `predicate()` is true (re-checked on every event), or time out."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def _note_received(self, event: dict, record: dict) -> None:
        with self._cond:
            self.events_received.append(event)
            record["events"].append(event)
            self._cond.notify_all()

    def _note_sent(self, event: dict) -> None:
        with self._cond:
            self.events_sent.append(event)
            self._cond.notify_all()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _kill(self, code: int) -> int:
        live = list(self._live)
        for conn in live:
            if code == 1006:
                conn.ws.transport.abort()
            else:
                await conn.ws.close(code, "killed by test")
        return len(live)

    async def _expire(self) -> int:
        live = list(self._live)
        for conn in live:
            await conn.error(error_body(
                "session_expired", "Your session hit the maximum duration of 60 minutes.",
                kind="invalid_request_error"))
            await conn.ws.close(1000, "session expired")
        return len(live)

    # -- server ------------------------------------------------------------------------------

    def _check_request(self, connection, request):
        if not urlsplit(request.path).path.endswith("/v1/realtime"):
            return connection.respond(404, "Not found\n")
        if not request.headers.get("Authorization", "").startswith("Bearer sk-"):
            return connection.respond(401, "Incorrect API key provided\n")
        return None

    async def _handler(self, ws) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        with self._cond:
            record = {"path": ws.request.path, "events": [],
                      "headers": dict(ws.request.headers.raw_items())}
            self.connections.append(record)
        conn = FakeConnection(self, ws, query.get("model", ["gpt-realtime"])[0], record)
        try:
            if ws.request.headers.get("OpenAI-Beta"):
                await conn.error(error_body(
                    "beta_api_shape_disabled", "The Realtime Beta API is no longer supported. "
                    "Please use /v1/realtime for the GA API."))
                await ws.close(4000, "beta api shape disabled")
                return
            self._live.add(conn)
            await conn.send({"type": "session.created", "session": conn.session})
            async for raw in ws:
                await conn.handle(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._live.discard(conn)
                self._cond.notify_all()
            conn.cancel_reason = conn.cancel_reason or "client_cancelled"

    async def _responder(self, conn: FakeConnection, rid: str, speech_end_at) -> None:
        try:
            await conn.send({"type": "response.created",
                             "response": response_body(rid, "in_progress", [])})
            if self.response_delay_s:
                await asyncio.sleep(self.response_delay_s)
            if self._forced_calls:
                output = [await self._function_call(conn, rid, *self._forced_calls.pop(0))]
            else:
                output = [await self._speak(conn, rid, speech_end_at)]
            reason = conn.cancel_reason
            conn.response_id = None  # before response.done: the client may create at once
            status = "cancelled" if reason else "completed"
            await conn.send({"type": "response.done",
                             "response": response_body(rid, status, output, reason)})
        except ConnectionClosed:
            pass
        finally:
            if conn.response_id == rid:
                conn.response_id = None

    async def _speak(self, conn: FakeConnection, rid: str, speech_end_at) -> dict:
        item_id = new_id("item")
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "assistant",
                "status": "in_progress", "content": []}
        meta = conn.items[item_id] = {"role": "assistant", "audio_ms": 0}
        where = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
        await conn.send({"type": "response.output_item.added", "response_id": rid,
                         "output_index": 0, "item": item})
        await conn.send({"type": "conversation.item.added", "item": item,
                         "previous_item_id": None})
        await conn.send({"type": "response.content_part.added", **where,
                         "part": {"type": "audio", "transcript": ""}})
        step = self.chunk_ms * 8
        for start in range(0, len(self.reply_audio), step):
            if conn.cancel_reason:
                break
            chunk = self.reply_audio[start:start + step]
            if start == 0 and speech_end_at is not None:
                now = time.monotonic()
                self.turns.append({"speech_end": speech_end_at, "first_audio": now,
                                   "response_s": now - speech_end_at})
            await conn.send({"type": "response.output_audio.delta", **where,
                             "delta": base64.b64encode(chunk).decode()})
            meta["audio_ms"] += len(chunk) // 8
            if start == 0:
                await conn.send({"type": "response.output_audio_transcript.delta", **where,
                                 "delta": self.reply_text})
            await asyncio.sleep(self.delta_interval_s)
        done = "incomplete" if conn.cancel_reason else "completed"
        part = {"type": "output_audio", "transcript": self.reply_text}
        item = dict(item, status=done, content=[part])
        if not conn.cancel_reason:
            await conn.send({"type": "response.output_audio.done", **where})
            await conn.send({"type": "response.output_audio_transcript.done", **where,
                             "transcript": self.reply_text})
            await conn.send({"type": "response.content_part.done", **where,
                             "part": {"type": "audio", "transcript": self.reply_text}})
        await conn.send({"type": "response.output_item.done", "response_id": rid,
                         "output_index": 0, "item": item})
        await conn.send({"type": "conversation.item.done", "item": item,
                         "previous_item_id": None})
        return item

    async def _function_call(self, conn: FakeConnection, rid: str, name: str, raw: str) -> dict:
        item_id, call_id = new_id("item"), new_id("call")
        conn.items[item_id] = {"role": None}
        item = {"id": item_id, "object": "realtime.item", "type": "function_call",
                "status": "in_progress", "name": name, "call_id": call_id, "arguments": ""}
        where = {"response_id": rid, "item_id": item_id, "output_index": 0, "call_id": call_id}
        await conn.send({"type": "response.output_item.added", "response_id": rid,
                         "output_index": 0, "item": item})
        await conn.send({"type": "response.function_call_arguments.delta", **where,
                         "delta": raw})
        await conn.send({"type": "response.function_call_arguments.done", **where,
                         "name": name, "arguments": raw})
        item = dict(item, status="completed", arguments=raw)
        await conn.send({"type": "response.output_item.done", "response_id": rid,
                         "output_index": 0, "item": item})
        return item


def main() -> None:
    """Serve a fake until stdin closes; prints the HTTP base URL on the first line.

    Each line `turns` read from stdin is answered with the JSON list of `fake.turns`.
    """
    with RealtimeFake() as fake:
        print(fake.http_base_url, flush=True)
        for line in sys.stdin:
            if line.strip() == "turns":
                print(json.dumps(fake.turns), flush=True)


if __name__ == "__main__":
    main()
