"""I/O shell of the Realtime backend: the openai SDK's sync realtime client on two threads.

Written against `threading`/`queue` so that under gevent's monkey patching (how the product runs)
the reader and writer are greenlets. The reader owns receiving and reconnecting; the writer is the
only sender on the socket. `send_audio` only appends to a bounded deque, so the caller's audio
path never waits on the network; audio queued before the session config is confirmed (pre-warm,
reconnect) is held and sent once it is.
"""
from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson
from openai import OpenAI
from websockets.exceptions import ConnectionClosed

from agents.base import AgentError, AgentFailure, AgentProfile
from agents.outbox import Outbox, OutboxEvents
from agents.realtime.events import DEFAULT_MODEL
from agents.realtime.protocol import RealtimeProtocol

log = logging.getLogger("forkline.agents.realtime")

RECOVERABLE = frozenset({1001, 1006, 1011, 1012, 1013, "session_expired"})
RETRY_DELAYS_S = (0.0, 0.25, 0.5, 1.0, 2.0)
MAX_QUEUED_FRAMES = 500  # 10 s of 20 ms frames; the oldest are dropped beyond that
FRAMES_PER_APPEND = 5  # coalesce up to 100 ms per append when audio has piled up


class RealtimeSession(OutboxEvents):
    """AgentSession over the OpenAI Realtime API (GA), mu-law passthrough."""

    def __init__(self, profile: AgentProfile, settings: Mapping[str, Any]) -> None:
        self.profile = profile
        self._settings = settings
        replay_ms = int(float(settings.get("REPLAY_INBOUND_S") or 8.0) * 1000)
        self._proto = RealtimeProtocol(profile, replay_ms=replay_ms)
        self._lock = threading.Lock()  # guards _proto
        self._cond = threading.Condition()  # guards the fields below
        self._control: deque[dict] = deque()
        self._audio: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        self._conn: Any = None
        self._ready = False
        self._closed = False
        self._stop = threading.Event()
        self._events = Outbox()
        self._threads: list[threading.Thread] = []
        self._connect_lock = threading.Lock()
        self.reconnects = 0

    # -- AgentSession ------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the socket (handshake only) and start the reader and writer; idempotent."""
        with self._connect_lock:  # a pre-warm connect may still be in flight
            if self._closed:
                raise AgentError("closed", "the session was closed")
            if not self._threads:
                self._start()

    def _start(self) -> None:
        if not self._settings.get("OPENAI_API_KEY"):
            raise AgentError("no_api_key", "OPENAI_API_KEY is not configured")
        self._client = _client(self._settings["OPENAI_API_KEY"],
                               self._settings.get("OPENAI_BASE_URL") or None,
                               self._settings.get("OPENAI_WEBSOCKET_BASE_URL") or None)
        conn = self._open()
        for target, arg in ((self._read_loop, (conn,)), (self._write_loop, ())):
            thread = threading.Thread(target=target, args=arg, daemon=True, name="realtime")
            thread.start()
            self._threads.append(thread)

    def send_audio(self, ulaw: bytes) -> None:
        """Queue caller audio; never blocks."""
        with self._cond:
            self._audio.append(ulaw)
            self._cond.notify_all()

    def stop_response(self) -> None:
        """Cancel the active response at once (barge-in decided); never blocks."""
        with self._lock:
            sends = self._proto.stop()
        self._queue_control(sends)

    def truncate(self, heard_ms: int, item_id: str | None = None) -> None:
        """Truncate the item at what the caller heard, once the playout position is known."""
        with self._lock:
            sends = self._proto.truncate(heard_ms, item_id)
        self._queue_control(sends)

    def send_tool_result(self, call_id: str, output: dict) -> None:
        """Return a tool's output to the model, which then speaks."""
        with self._lock:
            sends = self._proto.tool_result(call_id, output)
        self._queue_control(sends)

    def close(self) -> None:
        """Close the socket and stop both threads; idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            conn = self._conn
            self._cond.notify_all()
        self._stop.set()
        if conn is not None:
            _quietly_close(conn)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._events.end()

    # -- internals ---------------------------------------------------------------------------

    @property
    def protocol(self) -> RealtimeProtocol:
        """The sans-I/O state (tests and the benchmark read counters from it)."""
        return self._proto

    def _open(self) -> Any:
        model = self._settings.get("OPENAI_REALTIME_MODEL") or DEFAULT_MODEL
        timeout = float(self._settings.get("OPENAI_CONNECT_TIMEOUT_S") or 5.0)
        try:
            manager = self._client.realtime.connect(
                model=model, websocket_connection_options={"open_timeout": timeout}
            )
            return manager.enter()
        except Exception as exc:  # handshake refused, DNS, timeout: all mean "not now"
            raise AgentError("connect_failed", f"{type(exc).__name__}: {exc}"[:200]) from None

    def _queue_control(self, sends: list[dict]) -> None:
        if not sends:
            return
        with self._cond:
            if self._conn is not None:  # without a socket there is no server state to act on
                self._control.extend(sends)
                self._cond.notify_all()

    def _read_loop(self, conn: Any) -> None:
        while conn is not None:
            reason = self._pump(conn)
            with self._cond:
                self._conn, self._ready = None, False
                self._control.clear()
                closed = self._closed
            if closed:
                break
            if reason not in RECOVERABLE:
                self._fail("backend_closed", f"Realtime socket closed ({reason})")
                break
            log.warning("realtime socket lost (%s); reconnecting", reason)
            conn = self._reopen()
        self._events.end()

    def _pump(self, conn: Any) -> object:
        with self._cond:
            closed = self._closed
            self._conn = None if closed else conn
            self._cond.notify_all()
        if closed:  # close() ran while this socket was opening
            _quietly_close(conn)
            return "closed"
        try:
            while True:
                try:
                    event = orjson.loads(conn.recv_bytes())
                except orjson.JSONDecodeError:
                    continue  # one bad frame is not worth the session
                with self._lock:
                    step = self._proto.on_event(event)
                for agent_event in step.events:
                    self._events.put(agent_event)
                if step.sends or step.ready:
                    with self._cond:
                        self._control.extend(step.sends)
                        self._ready = self._ready or step.ready
                        self._cond.notify_all()
                if step.reconnect:
                    _quietly_close(conn)
                    return "session_expired"
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else 1006
        except OSError:
            return 1006

    def _reopen(self) -> Any:
        for delay in RETRY_DELAYS_S:
            if self._stop.wait(delay):
                return None
            try:
                conn = self._open()
            except AgentError as exc:
                log.warning("realtime reconnect failed: %s", exc.code)
                continue
            self.reconnects += 1
            return conn
        self._fail("reconnect_failed", "could not reopen the Realtime socket")
        return None

    def _fail(self, code: str, message: str) -> None:
        self._events.put(AgentFailure(code, message, fatal=True))

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._sendable():
                    self._cond.wait()
                if self._closed:
                    return
                conn = self._conn
                if self._control:
                    event, audio = self._control.popleft(), None
                else:
                    count = min(FRAMES_PER_APPEND, len(self._audio))
                    event, audio = None, b"".join(self._audio.popleft() for _ in range(count))
            try:
                if audio is not None:
                    with self._lock:
                        event = self._proto.audio_sent(audio)  # kept for replay if this fails
                    conn.send_raw(orjson.dumps(event).decode())
                else:
                    conn.send(event)
            except Exception:  # the reader sees the close and reconnects
                log.debug("realtime send failed", exc_info=True)

    def _sendable(self) -> bool:
        return self._conn is not None and bool(self._control or (self._ready and self._audio))


@functools.lru_cache(maxsize=8)
def _client(api_key: str, base_url: str | None, websocket_base_url: str | None) -> OpenAI:
    # Building a client costs hundreds of ms of CPU (httpx2 setup): share one per config.
    return OpenAI(api_key=api_key, base_url=base_url, websocket_base_url=websocket_base_url,
                  max_retries=0)


def _quietly_close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:
        log.debug("realtime close failed", exc_info=True)
