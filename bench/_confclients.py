"""The Twilio side of one whole conference: two human forks and the AI leg, in one asyncio process.

Each leg does what Twilio's media server does: a signed upgrade, `connected`, `start`, then one
160-byte mu-law `media` frame every 20 ms, `stop` at the end. The forks are unidirectional
(Twilio's `<Stream>` fork of a human leg: nothing comes back); the AI leg is bidirectional
(`<Connect><Stream>`): returned audio plays through an emulated Twilio playout buffer, marks
are echoed when the audio before them has played, `clear` flushes it (bench/_loadgen.py).

The script (one cycle per `CYCLE_FRAMES`): the customer asks question Q, the AI answers, and
1.5 s after Q ends the human agent talks (B) over the AI's answer; the AI leg hears the
conference mix (Q, then B). With the echo agent every AI-leg frame also carries its id in its
first 12 bytes (bench/_loadgen.encode_frame), so echoed audio gives per-frame round trips.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib

import orjson
from websockets.asyncio.client import connect

from bench._loadgen import _MEDIA, FRAME_BYTES, MAGIC, FrameScanner
from bench._playout import PlayoutMarks

FRAME_S = 0.020
SILENCE = b"\xff" * FRAME_BYTES
B_GAP_FRAMES = 75  # B starts 1.5 s after Q ends: the AI is answering by then
# mu-law codes of the 16 smallest magnitudes of each sign: what counts as "quiet" at the ear.
QUIET = bytes(range(0xF0, 0x100)) + bytes(range(0x70, 0x80))


def audible(audio: bytes) -> bool:
    """True when a chunk has more than a few non-quiet samples."""
    return len(audio.translate(None, QUIET)) > 16


class Script:
    """Which frame each leg sends at tick k of a conference (pure, shared by every conference)."""

    def __init__(self, q: bytes, b: bytes, cycle_frames: int) -> None:
        self.q = [q[i:i + FRAME_BYTES] for i in range(0, len(q) - FRAME_BYTES + 1, FRAME_BYTES)]
        self.b = [b[i:i + FRAME_BYTES] for i in range(0, len(b) - FRAME_BYTES + 1, FRAME_BYTES)]
        self.b_start = len(self.q) + B_GAP_FRAMES
        self.cycle = max(cycle_frames, self.b_start + len(self.b) + 150)
        self.q64 = [base64.b64encode(f).decode() for f in self.q]
        self.b64 = [base64.b64encode(f).decode() for f in self.b]
        self.silence64 = base64.b64encode(SILENCE).decode()

    def phase(self, k: int) -> tuple[str, int]:
        """("q"|"b"|"", frame index within it) at cycle position k."""
        p = k % self.cycle
        if p < len(self.q):
            return "q", p
        if self.b_start <= p < self.b_start + len(self.b):
            return "b", p - self.b_start
        return "", 0


class Leg:
    """One media socket of a conference."""

    def __init__(self, url: str, headers: dict, account_sid: str, call_sid: str,
                 params: dict) -> None:
        self.url, self.headers, self.account_sid = url, headers, account_sid
        self.call_sid, self.stream_sid = call_sid, "MZ" + call_sid[2:]
        self.params = params
        self.ws = None
        self.seq = self.sent = 0
        self.error: str | None = None
        self.reader: asyncio.Task | None = None

    async def open(self, limit: asyncio.Semaphore) -> None:
        """Signed upgrade, then `connected` and `start` as Twilio sends them."""
        async with limit:
            try:
                self.ws = await connect(self.url, additional_headers=self.headers,
                                        compression=None, ping_interval=None, open_timeout=20,
                                        max_size=2**20)
            except Exception as exc:  # noqa: BLE001 - a failed connect is a result
                self.error = f"connect: {type(exc).__name__}: {exc}"[:300]
                return
        self.reader = asyncio.create_task(self._read())
        await self.ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        self.seq += 1
        start = {"accountSid": self.account_sid, "streamSid": self.stream_sid,
                 "callSid": self.call_sid, "tracks": ["inbound"],
                 "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                 "customParameters": self.params}
        await self.ws.send(orjson.dumps({"event": "start", "sequenceNumber": str(self.seq),
                                         "start": start, "streamSid": self.stream_sid}).decode())

    async def send_media(self, payload64: str, ts_ms: int) -> None:
        """One 20 ms frame."""
        self.seq += 1
        self.sent += 1
        await self.ws.send(_MEDIA % (self.seq, self.sent, ts_ms, payload64, self.stream_sid))

    async def hang_up(self) -> None:
        """`stop`, then close, as Twilio does when the call ends."""
        if self.ws is None:
            return
        with contextlib.suppress(Exception):
            self.seq += 1
            await self.ws.send(orjson.dumps({
                "event": "stop", "sequenceNumber": str(self.seq), "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}}).decode())
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.on_message(orjson.loads(raw), asyncio.get_running_loop().time())
        except Exception as exc:  # noqa: BLE001
            self.error = self.error or f"read: {type(exc).__name__}: {exc}"[:300]

    def on_message(self, msg: dict, now: float) -> None:
        """A fork receives nothing (Twilio forks are one-way)."""


class AiLegClient(Leg):
    """The AI leg: playout emulation, mark echoes, clears; ids and audibility of returned audio."""

    def __init__(self, *args, n_frames: int, tagged: bool) -> None:
        super().__init__(*args)
        self.tagged = tagged
        self.sent_at = [0.0] * n_frames
        self.back_at = [0.0] * n_frames
        self.scanner = FrameScanner()
        self.playout = PlayoutMarks(self._echo_mark)
        self.clears: list[float] = []  # arrival times
        self.audible_at: list[float] = []  # arrival times of audible media messages
        self.old_after_clear: list[tuple[float, int]] = []  # (arrival, frame id) after a clear
        self.tasks: set[asyncio.Task] = set()

    def frame(self, k: int, audio: bytes) -> str:
        """The payload of AI-leg frame k (tagged with its id for the echo agent)."""
        if not self.tagged:
            return base64.b64encode(audio).decode()
        digits = bytes(0x40 | ((k >> s) & 0xF) for s in range(28, -4, -4))
        return base64.b64encode(MAGIC + digits + audio[12:]).decode()

    def on_message(self, msg: dict, now: float) -> None:
        """Play media, echo marks when played, flush on clear (as Twilio does)."""
        event = msg.get("event")
        if event == "media":
            audio = base64.b64decode(msg["media"]["payload"])
            self.playout.media(len(audio), now)
            if audible(audio[12:] if self.tagged else audio):
                self.audible_at.append(now)
            if self.tagged:
                for fid in self.scanner.feed(audio):
                    if 0 <= fid < len(self.back_at) and not self.back_at[fid]:
                        self.back_at[fid] = now
                        if self.clears:
                            self.old_after_clear.append((now, fid))
        elif event == "mark":
            self.playout.mark(msg.get("mark", {}).get("name", ""), now)
        elif event == "clear":
            self.clears.append(now)
            self.playout.clear(now)

    def _echo_mark(self, name: str) -> None:
        async def send() -> None:
            with contextlib.suppress(Exception):  # a mark racing the close is harmless
                self.seq += 1
                await self.ws.send(orjson.dumps({"event": "mark", "sequenceNumber": str(self.seq),
                                                 "streamSid": self.stream_sid,
                                                 "mark": {"name": name}}).decode())
        task = asyncio.create_task(send())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def hang_up(self) -> None:
        self.playout.cancel()
        await super().hang_up()
