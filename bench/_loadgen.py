"""Load generator: N Twilio-faithful bidirectional Media Streams clients in one asyncio process.

Each client does what Twilio's media server does on a `<Connect><Stream>`: a signed upgrade,
`connected`, `start`, then one 160-byte mu-law `media` frame every 20 ms; it plays the returned
audio through an emulated playout buffer and echoes each `mark` once the audio queued before it
has "played" (at once when playout has caught up), and flushes that buffer on `clear`.
Every frame carries its id in the audio, so echoed audio is matched to the frame that caused it
however the server re-chunks it.

Run by bench/media_bench.py as a subprocess: one JSON spec line on stdin, `READY` on stdout
once connected, `GO <epoch>` on stdin, `DONE` on stdout once every echo is back (or the drain
timed out), `BYE` on stdin to hang up, then one JSON result line on stdout.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
import time

import orjson
from websockets.asyncio.client import connect

from bench._frames import (
    FRAME_BYTES,
    FRAME_S,
    LATE_S,
    MAGIC,
    FrameScanner,
    encode_frame,
    frame_schedule,
)
from bench._playout import PlayoutMarks

__all__ = ["FRAME_BYTES", "FRAME_S", "MAGIC", "FrameScanner", "call_sid", "encode_frame",
           "frame_schedule", "run_load"]

_MEDIA = (
    '{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
    '"timestamp":"%d","payload":"%s"},"streamSid":"%s"}'
)


def call_sid(index: int, run: int = 0) -> str:
    """The CallSid of stream `index` of step `run` (every step's calls are new calls)."""
    return f"CA{run:08x}{index:024x}"


class StreamClient:
    """One emulated Twilio media stream (one AI leg); all per-call state lives here."""

    def __init__(self, spec: dict, index: int, n_frames: int, warmup_frames: int) -> None:
        self.spec, self.index = spec, index
        self.url = spec["url"]
        self.headers = spec["headers"]
        self.params = spec["params"][index - spec["first_index"]]
        self.call_sid = call_sid(index, spec["run"])
        self.stream_sid = "MZ" + self.call_sid[2:]
        self.n_frames, self.warmup_frames = n_frames, warmup_frames
        self.sent_at = [0.0] * n_frames
        self.received_at = [0.0] * n_frames
        self.received = self.late = self.seq = 0
        self.media_msgs = self.media_bytes = self.marks = self.clears = self.foreign_sid = 0
        self.scanner = FrameScanner()
        self.playout = PlayoutMarks(self._echo_mark)
        self.all_back = asyncio.Event()
        self.error: str | None = None
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.opened_at = 0.0
        self.tasks: set[asyncio.Task] = set()

    async def open(self, limit: asyncio.Semaphore) -> None:
        """Upgrade (signed), then send `connected` and `start` as Twilio does."""
        async with limit:
            try:
                self.ws = await connect(
                    self.url, additional_headers=self.headers, compression=None,
                    ping_interval=None, open_timeout=20, max_size=2**20,
                )
            except Exception as exc:  # noqa: BLE001 - any failure to connect is reported
                self.error = f"connect: {type(exc).__name__}: {exc}"[:300]
                return
        self.opened_at = asyncio.get_running_loop().time()
        self.reader = asyncio.create_task(self._read())
        await self._send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        start = {
            "accountSid": self.spec["account_sid"], "streamSid": self.stream_sid,
            "callSid": self.call_sid, "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": self.params,
        }
        self.seq += 1
        message = {"event": "start", "sequenceNumber": str(self.seq), "start": start,
                   "streamSid": self.stream_sid}
        await self._send(orjson.dumps(message).decode())

    async def run(self, t0: float, drain_s: float) -> None:
        """Send every frame on its 20 ms schedule from t0, then wait for the echoes."""
        if self.ws is None:
            return
        try:
            async for k, due, now in frame_schedule(t0, self.n_frames):
                if now - due > LATE_S:
                    self.late += 1
                payload = base64.b64encode(encode_frame(k)).decode()
                self.seq += 1
                ts = int((due - self.opened_at) * 1000)
                self.sent_at[k] = now
                await self.ws.send(_MEDIA % (self.seq, k + 1, ts, payload, self.stream_sid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_back.wait(), drain_s)
        except Exception as exc:  # noqa: BLE001 - a dropped socket is a result, not a crash
            self.error = self.error or f"send: {type(exc).__name__}: {exc}"[:300]

    async def hang_up(self) -> None:
        """Send `stop` and close, as Twilio does when the call ends."""
        if self.ws is None:
            return
        try:
            self.seq += 1
            await self._send(orjson.dumps({
                "event": "stop", "sequenceNumber": str(self.seq), "streamSid": self.stream_sid,
                "stop": {"accountSid": self.spec["account_sid"], "callSid": self.call_sid},
            }).decode())
        except Exception as exc:  # noqa: BLE001
            self.error = self.error or f"stop: {type(exc).__name__}: {exc}"[:300]
        finally:
            self.playout.cancel()
            await self.ws.close()
            if self.reader is not None:
                await asyncio.gather(self.reader, return_exceptions=True)

    async def _send(self, text: str) -> None:
        await self.ws.send(text)

    async def _send_quietly(self, text: str) -> None:
        # A mark echo racing the close is harmless; the reader reports real socket errors.
        with contextlib.suppress(Exception):
            await self.ws.send(text)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for raw in self.ws:
                self._on_message(orjson.loads(raw), loop.time())
        except Exception as exc:  # noqa: BLE001
            if not self.all_back.is_set():
                self.error = self.error or f"read: {type(exc).__name__}: {exc}"[:300]

    def _on_message(self, msg: dict, now: float) -> None:
        event = msg.get("event")
        if msg.get("streamSid") != self.stream_sid:
            self.foreign_sid += 1
        if event == "media":
            audio = base64.b64decode(msg["media"]["payload"])
            self.media_msgs += 1
            self.media_bytes += len(audio)
            self.playout.media(len(audio), now)
            for frame_id in self.scanner.feed(audio):
                if 0 <= frame_id < self.n_frames and not self.received_at[frame_id]:
                    self.received_at[frame_id] = now
                    self.received += 1
            if self.received == self.n_frames:
                self.all_back.set()
        elif event == "mark":
            self.playout.mark(msg.get("mark", {}).get("name", ""), now)
        elif event == "clear":
            self.clears += 1
            self.playout.clear(now)

    def _echo_mark(self, name: str) -> None:
        self.marks += 1
        self.seq += 1
        text = orjson.dumps({"event": "mark", "sequenceNumber": str(self.seq),
                             "streamSid": self.stream_sid, "mark": {"name": name}}).decode()
        task = asyncio.create_task(self._send_quietly(text))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def result(self) -> dict:
        """Counters and the round trips (ms) of the frames sent after the warm-up."""
        rtts = [
            round((back - sent) * 1000, 2)
            for sent, back in zip(self.sent_at[self.warmup_frames :],
                                  self.received_at[self.warmup_frames :], strict=True)
            if back
        ]
        sent = sum(1 for t in self.sent_at if t)
        slow_ms = self.spec.get("slow_ms", 40.0)
        slow = [k for k, (a, b) in enumerate(zip(self.sent_at, self.received_at, strict=True))
                if k >= self.warmup_frames and (not b or (b - a) * 1000 > slow_ms)]
        return {
            "slow_frames": slow,
            "sent": sent, "received": self.received, "lost": self.n_frames - self.received,
            "late": self.late, "rtt_ms": rtts, "media_msgs": self.media_msgs,
            "media_bytes": self.media_bytes, "marks": self.marks, "clears": self.clears,
            "foreign_sid": self.foreign_sid, "garbage_bytes": self.scanner.garbage,
            "error": self.error,
        }


async def run_load(spec: dict, wait_for_go, wait_for_end=None) -> list[dict]:
    """Open every stream, await `wait_for_go()` (the start epoch), run them, await
    `wait_for_end()` (every generator done: teardown stays out of the measurement), hang up."""
    n_frames = round((spec["warmup_s"] + spec["duration_s"]) / FRAME_S)
    warmup_frames = round(spec["warmup_s"] / FRAME_S)
    first = spec["first_index"]
    clients = [
        StreamClient(spec, first + i, n_frames, warmup_frames) for i in range(spec["streams"])
    ]
    limit = asyncio.Semaphore(spec.get("connect_concurrency", 16))
    # Bounded: a server that accepts TCP but never answers the upgrade must not hang the bench.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.open(limit) for c in clients)),
                               spec.get("connect_timeout_s", 60))
    start_epoch = await wait_for_go(sum(1 for c in clients if c.ws is not None))
    loop = asyncio.get_running_loop()
    t0 = loop.time() + (start_epoch - time.time())
    total = spec["total_streams"]
    await asyncio.gather(*(
        c.run(t0 + FRAME_S * c.index / total, spec["drain_s"]) for c in clients
    ))
    results = [c.result() for c in clients]
    if wait_for_end is not None:
        await wait_for_end()
    await asyncio.gather(*(c.hang_up() for c in clients))
    return results


async def _stdio_main() -> None:
    loop = asyncio.get_running_loop()
    spec = orjson.loads(await loop.run_in_executor(None, sys.stdin.readline))

    async def wait_for_go(connected: int) -> float:
        print(f"READY {connected}", flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)
        return float(line.split()[1])

    async def wait_for_end() -> None:
        print("DONE", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)

    results = await run_load(spec, wait_for_go, wait_for_end)
    sys.stdout.write(orjson.dumps({"streams": results}).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(_stdio_main())
