"""Live-listen across workers: a tap's audio goes through Redis only while a remote listener
exists (a browser's socket may land on any worker; the legs live on the one Twilio reached).

Listener side (`RemoteListen`, one per tap per worker, shared by its listeners through
conference.media.listen_hub): registers in the sorted set
`forkline:listen:want:<key>` (member: its id, score: when the entry expires, refreshed every
REFRESH_S) and reads the channel `forkline:listen:audio:<key>` into the listeners' own queues.
It registers only while its worker does not own the tap (then the local TapHub delivers).
Owner side (`TapRelay`): every SYNC_S it asks Redis which of its own taps have an unexpired
remote listener and attaches a `RelayFeed` to those (detaching when none is left). The feed is
the only part on the audio path: an append to a bounded deque that drops the oldest chunk; one
drainer thread (a greenlet under gevent) publishes what is queued. A Redis outage costs the
remote listeners their audio, never the call.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from conference.logs import get_logger

if TYPE_CHECKING:
    from conference.media.registry import MediaPlane

log = get_logger("media.relay")
WANT = "forkline:listen:want:"
AUDIO = "forkline:listen:audio:"
SYNC_S = 0.2  # how soon an owner starts (or stops) publishing after a listener comes (or goes)
REFRESH_S = 1.0  # listeners renew their entry this often ...
ENTRY_TTL_S = 4.0  # ... and a listener that died stops the carriage after this
FEED_CHUNKS = 25  # ~0.5 s of 20 ms chunks per tap; older audio is dropped first


class RelayFeed:
    """Tap callback of one relayed tap: a bounded, drop-oldest queue (never blocks)."""

    def __init__(self, wake: threading.Event, limit: int = FEED_CHUNKS) -> None:
        self.chunks: deque[bytes] = deque(maxlen=limit)
        self.wake = wake
        self.dropped = 0

    def __call__(self, ulaw: bytes) -> None:
        """On the audio path: append and wake the drainer."""
        if len(self.chunks) == self.chunks.maxlen:
            self.dropped += 1
        self.chunks.append(ulaw)
        self.wake.set()


class TapRelay:
    """Owner side: publishes this worker's taps that a listener on another worker wants."""

    def __init__(self, plane: MediaPlane, client) -> None:
        self.plane, self.redis = plane, client
        self.feeds: dict[str, tuple[RelayFeed, Callable[[], None]]] = {}
        self.wake = threading.Event()
        self.published = 0
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the sync loop and the drainer (once)."""
        if not self._threads:
            self._threads = [threading.Thread(target=target, name=name, daemon=True)
                             for target, name in ((self._sync_loop, "relay-sync"),
                                                  (self._drain_loop, "relay-drain"))]
            for thread in self._threads:
                thread.start()

    def wanted(self, keys: list[str], now: float) -> set[str]:
        """Which of `keys` have an unexpired remote listener (one Redis round trip)."""
        if not keys:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.zcount(WANT + key, now, "+inf")
        return {key for key, count in zip(keys, pipe.execute(), strict=True) if count}

    def sync(self, now: float | None = None) -> None:
        """Attach feeds to wanted local taps, detach the others."""
        wanted = self.wanted(sorted(self.plane.local_taps()), time.time() if now is None else now)
        for key in wanted - self.feeds.keys():
            feed = RelayFeed(self.wake)
            self.feeds[key] = (feed, self.plane.taps.subscribe(key, feed))
        for key in self.feeds.keys() - wanted:
            _, unsubscribe = self.feeds.pop(key)
            unsubscribe()

    def drain(self) -> int:
        """Publish everything queued; how many chunks went out."""
        pipe, sent = self.redis.pipeline(transaction=False), 0
        for key, (feed, _) in list(self.feeds.items()):
            while feed.chunks:
                pipe.publish(AUDIO + key, feed.chunks.popleft())
                sent += 1
        if sent:
            pipe.execute()
            self.published += sent
        return sent

    def _sync_loop(self) -> None:
        while True:
            try:
                self.sync()
            except Exception:
                log.warning("listen relay sync failed", exc_info=True, extra={"event": "relay"})
            time.sleep(SYNC_S)

    def _drain_loop(self) -> None:
        while True:
            self.wake.wait(1.0)
            self.wake.clear()
            try:
                self.drain()
            except Exception:  # the chunks of this round are lost, the next round retries
                log.warning("listen relay publish failed", exc_info=True,
                            extra={"event": "relay"})
                time.sleep(0.5)


class RemoteListen:
    """Listener side of one socket: want the tap remotely while it is not local; read it."""

    def __init__(self, plane: MediaPlane, client, key: str, callback: Callable[[bytes], None]):
        self.plane, self.redis, self.key, self.callback = plane, client, key, callback
        self.member = uuid.uuid4().hex
        self.stopped = threading.Event()
        self.received = 0
        # While this worker owns the tap the local TapHub already delivers it; the channel
        # still carries it whenever another worker's listener wants it, so it must be ignored
        # here or this socket gets every chunk twice. Updated by refresh() (every REFRESH_S).
        self.remote = True
        self._thread = threading.Thread(target=self._run, name="relay-listen", daemon=True)

    def start(self) -> RemoteListen:
        """Begin reading (the first registration happens before this returns)."""
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(AUDIO + self.key)
        self.refresh()
        self._thread.start()
        return self

    def refresh(self) -> None:
        """Renew the entry while the tap is remote; withdraw it while it is local."""
        want = WANT + self.key
        self.remote = self.plane.local_taps().isdisjoint((self.key,))
        if self.remote:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zadd(want, {self.member: time.time() + ENTRY_TTL_S})
            pipe.expire(want, int(ENTRY_TTL_S * 3))
            pipe.execute()
        else:
            self.redis.zrem(want, self.member)

    def _run(self) -> None:
        next_refresh = time.monotonic() + REFRESH_S
        try:
            while not self.stopped.is_set():
                self._step()
                if time.monotonic() >= next_refresh and not self.stopped.is_set():
                    next_refresh = time.monotonic() + REFRESH_S
                    self._guarded(self.refresh)
        finally:
            self._guarded(self.pubsub.close)

    def _step(self) -> None:
        try:
            message = self.pubsub.get_message(timeout=REFRESH_S)
        except Exception:
            log.warning("listen relay read failed", exc_info=True, extra={"event": "relay"})
            self.stopped.wait(REFRESH_S)
            return
        if message is not None and message.get("type") == "message":
            self.received += 1
            if self.remote:
                self.callback(message["data"])

    @staticmethod
    def _guarded(step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:
            log.warning("listen relay call failed", exc_info=True, extra={"event": "relay"})

    def stop(self) -> None:
        """Withdraw at once; the reader closes its connection within REFRESH_S."""
        if not self.stopped.is_set():
            self.stopped.set()
            self._guarded(lambda: self.redis.zrem(WANT + self.key, self.member))
