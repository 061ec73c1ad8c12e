"""Cross-worker signals over Redis pub/sub (only with REDIS_URL, i.e. several gevent workers).

A human's fork and the AI leg of the same conference may land on different workers; so may two
sockets of one call. Speech edges, socket claims and AI mode changes are published, and every
other worker acts on them as if they had happened locally. The workers may be on other hosts:
all they share is the Redis server.

Publishing never happens on a socket's read loop: `publish` appends to a bounded outbox that
one publisher greenlet drains, so a slow or absent Redis costs the audio path nothing. A
signal older than STALE_MS when its turn comes is dropped (a barge-in delivered after the
caller stopped talking would cut the AI for nothing); Redis being gone loses signals, never
audio.
"""
from __future__ import annotations

import collections
import os
import threading
import time
import uuid
from typing import TYPE_CHECKING

import orjson

from conference.logs import get_logger, monotonic_ms
from conference.media import metrics, supervise_remote

if TYPE_CHECKING:
    from conference.media.registry import MediaPlane

log = get_logger("media.bus")
CHANNEL = "forkline:media:signals"
OUTBOX = 1000  # signals waiting for Redis; the oldest go first when it is full
STALE_MS = 1000.0


def publisher_client(url: str):
    """A Redis client for publishing: quick timeouts and no retries of its own (a signal
    retried after Redis comes back would arrive late, i.e. wrong)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                retry=Retry(NoBackoff(), 0))


class SignalBus:
    """Publish this worker's speech edges and socket claims; apply other workers' ones."""

    def __init__(self, plane: MediaPlane, client, publisher=None) -> None:
        self.plane = plane
        self.redis = client  # the subscriber's connection: no read timeout
        self.publisher = publisher or client
        self.worker = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._thread: threading.Thread | None = None
        self._sender: threading.Thread | None = None
        self._outbox: collections.deque = collections.deque(maxlen=OUTBOX)
        self._ready = threading.Event()
        self.received = 0

    def start(self) -> None:
        """Start listening and publishing (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._listen, name="media-bus", daemon=True)
            self._thread.start()
        self._start_sender()

    def _start_sender(self) -> None:
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_loop, name="media-bus-pub",
                                            daemon=True)
            self._sender.start()

    def publish(self, kind: str, **fields) -> None:
        """Tell the other workers; never blocks, never raises into the audio path."""
        if len(self._outbox) == OUTBOX:
            metrics.BUS_SIGNALS.labels(outcome="dropped").inc()
        self._outbox.append((time.monotonic() * 1000.0, kind, fields))
        self._start_sender()
        self._ready.set()

    def _send_loop(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            while self._outbox:
                queued_ms, kind, fields = self._outbox.popleft()
                if time.monotonic() * 1000.0 - queued_ms > STALE_MS:
                    metrics.BUS_SIGNALS.labels(outcome="stale").inc()
                    continue
                self._send(kind, fields)

    def _send(self, kind: str, fields: dict) -> None:
        try:
            self.publisher.publish(CHANNEL, orjson.dumps(dict(fields, kind=kind,
                                                              worker=self.worker)))
            metrics.BUS_SIGNALS.labels(outcome="sent").inc()
        except Exception:
            metrics.BUS_SIGNALS.labels(outcome="failed").inc()
            log.warning("signal publish failed", exc_info=True, extra={"event": kind})

    def _listen(self) -> None:
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                for message in pubsub.listen():
                    self.apply(message.get("data"))
            except Exception:
                log.warning("signal bus lost; resubscribing", exc_info=True,
                            extra={"event": "bus"})
                threading.Event().wait(1.0)

    def apply(self, raw) -> None:
        """Act on one signal from another worker."""
        try:
            msg = orjson.loads(raw)
        except (orjson.JSONDecodeError, TypeError):
            return
        if not isinstance(msg, dict) or msg.get("worker") == self.worker:
            return
        self.received += 1
        if msg.get("kind") == "speech":
            for live in self.plane.ai_calls_in(str(msg.get("conf_key"))):
                live.barge_in("vad", monotonic_ms(), msg.get("speaker"))
        elif msg.get("kind") == "mode":
            self.plane.apply_ai_mode(str(msg.get("conf_key")), str(msg.get("mode")))
        elif msg.get("kind") == supervise_remote.SIGNAL:
            supervise_remote.on_signal(self.plane, msg)
        elif msg.get("kind") == "claim":
            key = (str(msg.get("call_sid")), str(msg.get("leg")))
            older = self.plane.table.owner(key)
            if older is not None:
                metrics.DUPLICATES.inc()
                older.fence()
            if key[1] == "ai":
                self.plane.moved_away(key[0])
