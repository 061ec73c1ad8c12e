"""A live, signed, started AI media stream kept flowing while an attack runs.

The echo backend speaks back every frame it hears, so the stream proves the worker kept serving
audio: every frame sent comes back (in order, no byte lost) and the socket is still open.
"""
from __future__ import annotations

import base64
import contextlib
import json
import random
import socket
import threading

from conference.twilio.security import make_stream_token
from twilio_sim.testing import wait_for

from .attack_server import masked, start_message, upgrade

SECRET = "attack-secret"  # FORKLINE_SECRET_KEY of the attack servers
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
# Near-silent mu-law codes (|sample| <= 16 of 32124): the voice detector never hears the caller
# speak, so no barge-in clears the echo (that would drop audio by design, not by the attack).
QUIET = (0xFF, 0xFE, 0x7F, 0x7E, 0xFD, 0x7D)


def _frames(data: bytearray):
    """Pop whole server (unmasked) frames off `data`: (opcode, payload) each."""
    while len(data) >= 2:
        n, head = data[1] & 0x7F, 2
        if n == 126:
            if len(data) < 4:
                return
            n, head = int.from_bytes(data[2:4], "big"), 4
        elif n == 127:
            if len(data) < 10:
                return
            n, head = int.from_bytes(data[2:10], "big"), 10
        if len(data) < head + n:
            return
        yield data[0] & 0x0F, bytes(data[head:head + n])
        del data[:head + n]


class LiveStream:
    """One AI stream of its own tenant and call: frames out every 20 ms, echoes read back."""

    def __init__(self, forkline) -> None:
        self.call_sid = f"CA{random.getrandbits(128):032x}"
        self.sent = bytearray()
        self.echoed = bytearray()
        self.closed_by_server = False
        self._seq = 1  # the start message is 1
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.sock = upgrade(forkline, "/twilio/ai-stream")
        tenant = random.randrange(10**6, 10**7)
        token = make_stream_token(SECRET, {"conference": "live", "tenant": tenant, "kind": "ai",
                                           "label": "ai", "call": self.call_sid})
        self.sock.sendall(start_message(self.call_sid, {
            "conference": "live", "tenant": str(tenant), "agent": "default", "mode": "speak",
            "coach": "", "token": token}))
        self.stream_sid = "MZ" + self.call_sid[2:]
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._reader.start()
        self._writer.start()

    def _write(self) -> None:
        frame = 0
        while not self._stop.is_set():
            payload = bytes(QUIET[(frame * 7 + i) % len(QUIET)] for i in range(FRAME_BYTES))
            with self._lock:
                self._send({"event": "media", "media": {
                    "track": "inbound", "chunk": str(frame + 1), "timestamp": str(frame * 20),
                    "payload": base64.b64encode(payload).decode()}})
                self.sent += payload
            frame += 1
            self._stop.wait(0.02)  # Twilio's pace: one frame per 20 ms

    def _send(self, msg: dict) -> None:
        # Caller holds the lock: one sequence across media and marks, as Twilio numbers them.
        self._seq += 1
        msg.update(sequenceNumber=str(self._seq), streamSid=self.stream_sid)
        self.sock.sendall(masked(0x81, json.dumps(msg).encode()))

    def _mark_played(self, name: str) -> None:
        # As Twilio does once the audio before a mark has played: Forkline paces its outbound
        # audio by these echoes, so a stream that never returns marks stops hearing the AI.
        with self._lock, contextlib.suppress(OSError):
            self._send({"event": "mark", "mark": {"name": name}})

    def _read(self) -> None:
        data = bytearray()
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                self.closed_by_server = True
                return
            data += chunk
            for opcode, payload in _frames(data):
                if opcode == 0x8:
                    self.closed_by_server = True
                    return
                msg = json.loads(payload)
                if msg.get("event") == "media":
                    self.echoed += base64.b64decode(msg["media"]["payload"])
                elif msg.get("event") == "mark":
                    self._mark_played(msg["mark"]["name"])

    def check_flowing(self) -> None:
        """Every frame sent so far must come back, and the socket must still be open.

        The stream keeps sending meanwhile: outbound audio is paced by the inbound clock, so
        the last frames' echo only leaves while frames keep arriving (as on a real call).
        """
        with self._lock:
            sent = bytes(self.sent)
        assert len(sent) >= FRAME_BYTES, "the stream never sent a frame"
        try:
            wait_for(lambda: len(self.echoed) >= len(sent) or self.closed_by_server,
                     timeout_s=60)
        except AssertionError:
            got = bytes(self.echoed)
            first = next((i for i, (a, b) in enumerate(zip(got, sent, strict=False)) if a != b),
                         min(len(got), len(sent)))
            raise AssertionError(f"{len(sent)} bytes sent during the attack, {len(got)} echoed, "
                                 f"identical up to byte {first}") from None
        self._stop.set()
        self._writer.join(timeout=10)
        assert not self.closed_by_server, "the live stream was closed during the attack"
        assert bytes(self.echoed[:len(sent)]) == sent, "frames were lost or reordered"

    def close(self) -> None:
        """End the stream (after check_flowing, or on failure)."""
        self._stop.set()
        with self._lock, contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._reader.join(timeout=10)


def started(stream: LiveStream, timeout_s: float = 20.0) -> LiveStream:
    """Wait until the stream's first frames come back (the worker accepted it)."""
    wait_for(lambda: len(stream.echoed) >= FRAME_BYTES or stream.closed_by_server,
             timeout_s=timeout_s, message="the live stream's first echo")
    assert not stream.closed_by_server, "the live stream was refused"
    return stream

