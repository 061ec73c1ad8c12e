"""One Redis subscription per relayed tap per worker, fanned out in-process to its listeners.

Every browser listening to the same remote leg on this worker shares one `RemoteListen` (one
pub/sub connection, one entry in the owner's want set); the first listener opens it and the last
one to leave closes it. The fan-out runs on the subscription's reader and only calls the
listeners' own callbacks (bounded, drop-oldest queues), so a slow browser never holds up the
others.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from conference.logs import get_logger
from conference.media.relay import RemoteListen

if TYPE_CHECKING:
    from conference.media.registry import MediaPlane

log = get_logger("media.listen_hub")
Callback = Callable[[bytes], object]


class Fanout:
    """The callback of one shared subscription: hands each chunk to every listener."""

    def __init__(self) -> None:
        self.callbacks: tuple[Callback, ...] = ()  # replaced, never mutated: safe to iterate
        self.errors = 0

    def __call__(self, ulaw: bytes) -> None:
        """On the subscription's reader: deliver to each listener in turn."""
        for callback in self.callbacks:
            try:
                callback(ulaw)
            except Exception:  # one broken listener must not silence the others
                self.errors += 1
                if self.errors % 200 == 1:
                    log.warning("relayed listener failed", exc_info=True,
                                extra={"event": "relay"})


class ListenHub:
    """This worker's shared remote subscriptions, by tap key."""

    def __init__(self, plane: MediaPlane, client) -> None:
        self.plane, self.redis = plane, client
        self.shared: dict[str, tuple[RemoteListen, Fanout]] = {}
        self._lock = threading.Lock()

    def join(self, key: str, callback: Callback) -> Callable[[], None]:
        """Hear tap `key` from whichever worker owns it; returns the leave function."""
        with self._lock:
            entry = self.shared.get(key)
            if entry is None:
                fanout = Fanout()
                entry = self.shared[key] = (RemoteListen(self.plane, self.redis, key, fanout),
                                            fanout)
                fanout.callbacks = (callback,)
                try:
                    entry[0].start()  # registers before join returns: the owner sees the want
                except Exception:
                    del self.shared[key]
                    raise
            else:
                entry[1].callbacks = (*entry[1].callbacks, callback)
        return _Leave(self, key, callback)

    def leave(self, key: str, callback: Callback) -> None:
        """Drop one listener; the last one out closes the subscription."""
        with self._lock:
            entry = self.shared.get(key)
            if entry is None:
                return
            remote, fanout = entry
            callbacks = list(fanout.callbacks)
            if callback in callbacks:
                callbacks.remove(callback)  # one join, one leave
            fanout.callbacks = tuple(callbacks)
            if fanout.callbacks:
                return
            del self.shared[key]
        remote.stop()

    def listeners(self, key: str) -> int:
        """How many listeners share the subscription of `key` (0: none open)."""
        entry = self.shared.get(key)
        return len(entry[1].callbacks) if entry is not None else 0


class _Leave:
    """The leave function of one join (an object, so it holds its own state)."""

    def __init__(self, hub: ListenHub, key: str, callback: Callback) -> None:
        self.hub, self.key, self.callback = hub, key, callback
        self.done = False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            self.hub.leave(self.key, self.callback)
