"""Per-worker registry of the media plane: live AI calls, socket owners, forks per conference."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask

from conference.logs import get_logger
from conference.media import metrics
from conference.media.bus import SignalBus, publisher_client
from conference.media.heaptrim import HeapTrimmer, glibc_malloc_trim
from conference.media.listen_hub import ListenHub
from conference.media.relay import TapRelay
from conference.media.replay import RedisReplayStore, ReplayStore
from conference.media.stream_state import StreamTable
from conference.media.taps import Recordings, TapHub

if TYPE_CHECKING:
    from conference.media.forkleg import ForkLeg
    from conference.media.live_call import LiveCall
    from conference.media.supervise_remote import BrowserEnd

log = get_logger("media.registry")


class MediaPlane:
    """Everything the media sockets of one worker share; lives in app.extensions["media"]."""

    def __init__(self, app: Flask) -> None:
        from conference.media.statesink import StateSink

        cfg = app.config
        self.app = app
        self.config = cfg
        self.table = StreamTable()
        self.calls: dict[str, LiveCall] = {}  # AI callSid -> live call (socket or parked)
        self.forks: dict[str, dict[str, ForkLeg]] = {}  # conference key -> label -> fork
        self.taps = TapHub()
        rec_dir = cfg.get("RECORDINGS_DIR") or os.path.join(app.instance_path, "recordings")
        self.recordings = Recordings(self.taps, rec_dir)
        self.sink = StateSink(app)
        self.replay = self._replay_store(cfg)
        self.bus: SignalBus | None = None
        self.relay: TapRelay | None = None
        self.listeners: ListenHub | None = None
        # Browser-supervisor taps this worker carries while the other end is on another worker.
        self.relayed: set[str] = set()
        self.browser_ends: dict[str, BrowserEnd] = {}  # supervisor key -> page end here
        if cfg.get("REDIS_URL"):
            import redis

            # The listener's connection has no read timeout (it blocks until a signal); the
            # publisher's gives up quickly, so a Redis outage only delays its own greenlet.
            self.bus = SignalBus(self, redis.Redis.from_url(cfg["REDIS_URL"]),
                                 publisher_client(cfg["REDIS_URL"]))
            self.relay = TapRelay(self, redis.Redis.from_url(cfg["REDIS_URL"],
                                                             socket_timeout=5))
            self.listeners = ListenHub(self, self.relay.redis)
        self.window_s = float(cfg["RECONNECT_WINDOW_S"])
        self._apology: bytes | None = None
        self._maint: threading.Thread | None = None
        self.trimmer = HeapTrimmer(float(cfg.get("MALLOC_TRIM_INTERVAL_S", 2.0)),
                                   glibc_malloc_trim(), metrics.HEAP_TRIM.observe,
                                   time.monotonic())
        self._lock = threading.Lock()

    @staticmethod
    def _replay_store(cfg) -> ReplayStore:
        inbound_s, outbound_s = float(cfg["REPLAY_INBOUND_S"]), float(cfg["REPLAY_OUTBOUND_S"])
        if cfg.get("REDIS_URL"):
            import redis

            client = redis.Redis.from_url(cfg["REDIS_URL"], socket_timeout=2)
            ttl = int(max(60.0, float(cfg["RECONNECT_WINDOW_S"]) * 4))
            return RedisReplayStore(client, inbound_s, outbound_s, ttl)
        return ReplayStore(inbound_s, outbound_s)

    def ensure_maintenance(self) -> None:
        """Start the background loop (Redis mirroring, parked-call expiry, heap trims) once per
        worker."""
        with self._lock:
            if self._maint is None:
                self._maint = threading.Thread(target=self._maintain, name="media-maint",
                                               daemon=True)
                self._maint.start()
                if self.bus is not None:
                    self.bus.start()
                if self.relay is not None:
                    self.relay.start()

    def _maintain(self) -> None:
        failures = 0
        while True:
            time.sleep(0.1)
            try:
                self.replay.flush()
                failures = 0
            except Exception:
                failures += 1
                if failures % 100 == 1:  # an outage fails every 100 ms: log a sample
                    log.warning("replay mirror failed", exc_info=True,
                                extra={"event": "replay"})
            try:
                self.expire_parked(time.monotonic() * 1000.0)
            except Exception:  # this loop must outlive any Redis outage
                log.warning("parked-call expiry failed", exc_info=True,
                            extra={"event": "replay"})
            self.trimmer.tick(time.monotonic())

    def expire_parked(self, now_ms: float) -> None:
        """Close AI sessions whose stream did not come back within the reconnect window."""
        for call_sid, live in list(self.calls.items()):
            if live.parked_at is None:
                continue
            if live.moved:  # another worker has the call, and the shared rings
                self.calls.pop(call_sid, None)
                live.shutdown()
                self.replay.release(call_sid)
            elif now_ms - live.parked_at > self.window_s * 1000:
                self.calls.pop(call_sid, None)
                live.shutdown()
                self.replay.forget(call_sid)

    def moved_away(self, call_sid: str) -> None:
        """Another worker (or host) claimed this AI call: let go of it once no socket is here."""
        live = self.calls.get(call_sid)
        if live is not None:
            live.moved = True  # expire_parked ends it without deleting the shared rings

    def adopt(self, call_sid: str, info: dict) -> LiveCall | None:
        """A re-dialed AI (stream parameter `continues`) takes over the parked call it replaces.

        Only a parked call of the same conference in this worker; its session, replay rings and
        playout state carry on under the new CallSid, so the conversation continues.
        """
        old_sid = info.get("continues")
        live = self.calls.get(old_sid) if old_sid else None
        if (live is None or live.closed or live.parked_at is None
                or live.conf_key != conf_key(info.get("tenant"), info.get("conference"))):
            return None
        self.calls.pop(old_sid, None)
        self.calls[call_sid] = live
        live.call_sid = call_sid
        self.replay.rename(old_sid, call_sid)
        return live

    def add_fork(self, conf_key: str, label: str, fork: ForkLeg) -> ForkLeg | None:
        """Register a human fork; returns the older fork of the same label, if any."""
        forks = self.forks.setdefault(conf_key, {})
        older = forks.get(label)
        forks[label] = fork
        return older if older is not fork else None

    def remove_fork(self, conf_key: str, label: str, fork: ForkLeg) -> None:
        """Forget a fork if it is still the registered one."""
        forks = self.forks.get(conf_key, {})
        if forks.get(label) is fork:
            del forks[label]
        if not forks:
            self.forks.pop(conf_key, None)

    def local_taps(self) -> set[str]:
        """The tap keys this worker publishes: its forks' legs, its AI legs' mix and voice."""
        keys = {fork.start.call_sid for by_label in list(self.forks.values())
                for fork in list(by_label.values())}
        for live in list(self.calls.values()):
            if live.leg is not None:
                keys.update((live.leg.mix_key, live.leg.out_key))
        keys.update(self.relayed)
        return keys

    def ai_calls_in(self, conf_key: str) -> list[LiveCall]:
        """The live AI calls of a conference in this worker."""
        return [live for live in self.calls.values() if live.conf_key == conf_key]

    def apply_ai_mode(self, key: str, mode: str) -> int:
        """Set the mode of this worker's live AI calls in conference `key`; how many changed."""
        now_ms = time.monotonic() * 1000.0
        return sum(live.set_mode(mode, now_ms) for live in self.ai_calls_in(key))

    def apology(self) -> bytes:
        """A short spoken apology (mu-law) from local TTS, or b"" when none is available."""
        if self._apology is None:
            try:
                from agents import speech

                audio = speech.apology_ulaw() if speech.available() else b""
                # Whole 20 ms frames, so audio queued after it stays frame-aligned.
                self._apology = audio + b"\xff" * (-len(audio) % 160)
            except Exception:
                log.warning("no apology audio", exc_info=True, extra={"event": "apology"})
                self._apology = b""
        return self._apology


def conf_key(tenant: str | None, conference: str | None) -> str:
    """The registry key of a conference (names are unique per tenant)."""
    return f"{tenant or ''}:{conference or ''}"


def subscribe(app: Flask, key: str, callback) -> Callable[[], None]:
    """Live audio of a leg (its callSid), "out:<callSid>" or "mix:<tenant>:<conference>"."""
    return get_plane(app).taps.subscribe(key, callback)


def listen(app: Flask, key: str, callback) -> Callable[[], None]:
    """Like `subscribe`, and (with Redis) also hear the tap when another worker owns the leg."""
    plane = get_plane(app)
    unsubscribe = plane.taps.subscribe(key, callback)
    if plane.listeners is None:
        return unsubscribe
    return _Both(plane.listeners.join(key, callback), unsubscribe)


class _Both:
    """Stop a listener's remote share, then its local subscription."""

    def __init__(self, *stops: Callable[[], None]) -> None:
        self.stops = stops

    def __call__(self) -> None:
        for stop in self.stops:
            stop()


def mix_key(tenant: str | int | None, conference: str | None) -> str:
    """The tap key of a conference's mix."""
    return "mix:" + conf_key(str(tenant) if tenant is not None else None, conference)


def set_ai_mode(app: Flask, tenant: str | int | None, conference: str | None,
                mode: str) -> int:
    """Tell the live AI of a conference its new mode, on this worker and (bus) on the others.

    Call it after the Participant update commits. In "listen" the bridge drops the AI's audio.
    Returns how many of this worker's calls changed.
    """
    plane = get_plane(app)
    key = conf_key(str(tenant) if tenant is not None else None, conference)
    changed = plane.apply_ai_mode(key, mode)
    if plane.bus is not None:
        plane.bus.publish("mode", conf_key=key, mode=mode)
    return changed


def get_plane(app: Flask) -> MediaPlane:
    """The media plane of `app`, created on first use."""
    plane = app.extensions.get("media")
    if plane is None:
        plane = app.extensions["media"] = MediaPlane(app)
    return plane
