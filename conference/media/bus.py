"""Cross-worker signals over Redis pub/sub (only with REDIS_URL, i.e. several gevent workers).

A human's fork and the AI leg of the same conference may land on different workers; so may two
sockets of one call. Speech edges, socket claims and AI mode changes are published, and every
other worker acts on them as if they had happened locally.
"""
from __future__ import annotations

import os
import threading
import uuid
from typing import TYPE_CHECKING

import orjson

from conference.logs import get_logger, monotonic_ms

if TYPE_CHECKING:
    from conference.media.registry import MediaPlane

log = get_logger("media.bus")
CHANNEL = "forkline:media:signals"


class SignalBus:
    """Publish this worker's speech edges and socket claims; apply other workers' ones."""

    def __init__(self, plane: MediaPlane, client) -> None:
        self.plane = plane
        self.redis = client
        self.worker = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._thread: threading.Thread | None = None
        self.received = 0

    def start(self) -> None:
        """Start listening (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._listen, name="media-bus", daemon=True)
            self._thread.start()

    def publish(self, kind: str, **fields) -> None:
        """Tell the other workers; a Redis hiccup is logged, never raised into the audio path."""
        try:
            self.redis.publish(CHANNEL, orjson.dumps(dict(fields, kind=kind, worker=self.worker)))
        except Exception:
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
        elif msg.get("kind") == "claim":
            key = (str(msg.get("call_sid")), str(msg.get("leg")))
            older = self.plane.table.owner(key)
            if older is not None:
                from conference.media import metrics

                metrics.DUPLICATES.inc()
                older.fence()
