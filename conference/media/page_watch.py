"""Stream side of a browser supervisor whose page is on another worker: notice the page is gone.

A page that closes withdraws its want entry and removes its leg itself. A page whose worker
died (kill -9, a lost host) does neither, but its entry stops being renewed
(conference.media.relay.RemoteListen renews it every REFRESH_S; each renewal is valid
ENTRY_TTL_S). The stream's worker asks Redis every CHECK_S whether the entry is still valid; once
a reachable Redis has not held it for GRACE_S, the page is gone and the leg ends the way a
page close ends a local leg: its relay closes, the sender closes the stream, the call ends.

A check that cannot reach Redis proves nothing, so it never counts as absent and restarts the
grace: after an outage the surviving page gets GRACE_S to renew an entry that expired while
Redis was away, and a healthy leg is never removed by an outage.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from conference.logs import get_logger
from conference.media.relay import REFRESH_S

if TYPE_CHECKING:
    from conference.media.registry import MediaPlane

log = get_logger("media.page_watch")
# One round trip per remote supervisor leg per second is nothing for Redis, and a second is
# small next to the ENTRY_TTL_S (4 s) the entry already takes to expire.
CHECK_S = 1.0
# After Redis comes back the page renews within about two REFRESH_S (a failed read waits one,
# the renewal is due by the next); a third covers a slow reconnect. A dead page's leg thus
# leaves the conference about ENTRY_TTL_S + GRACE_S (~7 s) after its worker died.
GRACE_S = 3 * REFRESH_S


class Timing(NamedTuple):
    """How often the stream's worker checks, and how long the entry must stay absent."""

    check_s: float = CHECK_S
    grace_s: float = GRACE_S


class PageGone:
    """Sans-I/O: from check outcomes (present, absent, unknown), whether the page is gone."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.absent_since: float | None = None

    def observe(self, present: bool | None, now: float) -> bool:
        """One check's outcome (None: Redis unreachable) at monotonic `now`; True once gone."""
        if present is None or present:
            self.absent_since = None  # an outage or a renewal: the grace starts over
            return False
        if self.absent_since is None:
            self.absent_since = now
        return now - self.absent_since >= self.grace_s


class PageWatch:
    """One checker (a thread, a greenlet under gevent) per remote supervisor leg; never on the
    audio path."""

    def __init__(self, plane: MediaPlane, key: str, on_gone: Callable[[], None],
                 timing: Timing | None = None) -> None:
        self.plane, self.key, self.on_gone = plane, key, on_gone
        self.timing = timing = timing or Timing()
        self.state = PageGone(timing.grace_s)
        self.stopped = threading.Event()
        self.checks = self.unreachable = 0
        self.gone = False
        self._thread = threading.Thread(target=self._run, name="page-watch", daemon=True)

    def start(self) -> PageWatch:
        """Begin checking every `timing.check_s`."""
        self._thread.start()
        return self

    def check(self) -> bool:
        """Ask Redis once; True when the page is now known to be gone."""
        assert self.plane.relay is not None  # a remote leg exists only with the relay
        present: bool | None
        try:
            present = bool(self.plane.relay.wanted([self.key], time.time()))
        except Exception:
            present = None
            self.unreachable += 1
            if self.unreachable % 200 == 1:
                log.warning("supervisor page check failed", exc_info=True,
                            extra={"event": "relay"})
        self.checks += 1
        return self.state.observe(present, time.monotonic())

    def _run(self) -> None:
        while not self.stopped.wait(self.timing.check_s):
            if self.check() and not self.stopped.is_set():
                self.gone = True
                self.stopped.set()  # once: the loop ends here
                log.info("supervisor page gone; ending its leg", extra={"event": "relay"})
                self.on_gone()
                return

    def stop(self) -> None:
        """The leg ended otherwise: check no more."""
        self.stopped.set()
