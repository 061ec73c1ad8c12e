"""The tenant's AI cap, enforced where the paid session starts: at the AI stream's socket.

The admin API checks the cap when it dials; this gate also holds when someone opens AI sockets
directly. Live AI calls are counted per tenant, in this worker or, with REDIS_URL, across workers:
a sorted set per tenant scored by lease expiry. Each worker refreshes the leases of the calls it
holds from one greenlet (never from the audio path), so a call longer than the lease keeps its
slot and a crashed worker's slots age out within one lease (AI_CAP_LEASE_S, minutes).
"""
from __future__ import annotations

import threading
import time

from conference.logs import get_logger

log = get_logger("media.ai_cap")
LEASE_S = 180.0  # a crashed worker's slots linger at most this long; refreshed every third


class LocalAiGate:
    """Live AI callSids per tenant in this worker (sockets per call: a reconnect overlaps)."""

    def __init__(self) -> None:
        self._live: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def acquire(self, tenant: str, call_sid: str, cap: int) -> bool:
        """Count `call_sid` as live for `tenant` unless that would exceed `cap`."""
        with self._lock:
            live = self._live.setdefault(tenant, {})
            if call_sid not in live and len(live) >= cap:
                return False
            live[call_sid] = live.get(call_sid, 0) + 1
            return True

    def release(self, tenant: str, call_sid: str) -> bool:
        """One of the call's AI sockets ended; True when it was the call's last."""
        with self._lock:
            live = self._live.get(tenant, {})
            if live.get(call_sid, 0) > 1:
                live[call_sid] -= 1
                return False
            live.pop(call_sid, None)
            return True

    def held(self) -> list[tuple[str, str]]:
        """(tenant, callSid) of every call this worker holds a socket of."""
        with self._lock:
            return [(t, c) for t, calls in self._live.items() for c in calls]


class RedisAiGate:
    """Live AI callSids per tenant across workers (Redis sorted sets scored by lease expiry)."""

    def __init__(self, client, lease_s: float = LEASE_S) -> None:
        self.client, self.lease_s = client, lease_s
        self.local = LocalAiGate()  # this worker's sockets per call: a reconnect overlaps
        self.refresher = None

    @staticmethod
    def key(tenant: str) -> str:
        """The tenant's sorted set of live AI callSids."""
        return f"forkline:ai-live:{tenant}"

    def acquire(self, tenant: str, call_sid: str, cap: int) -> bool:
        """Count `call_sid` as live for `tenant` unless that would exceed `cap`."""
        key, now = self.key(tenant), time.time()
        try:
            pipe = self.client.pipeline()
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {call_sid: now + self.lease_s})
            pipe.zcard(key)
            _, added, count = pipe.execute()
            if added and count > cap:
                self.client.zrem(key, call_sid)
                return False
        except Exception:  # Redis down: never refuse a call for it; the API's cap still holds
            log.warning("AI cap check failed", exc_info=True, extra={"event": "ai_cap"})
        self.local.acquire(tenant, call_sid, 1 << 30)
        return True

    def release(self, tenant: str, call_sid: str) -> bool:
        """One of the call's AI sockets ended; the slot is freed with the call's last socket."""
        if not self.local.release(tenant, call_sid):
            return False
        try:
            self.client.zrem(self.key(tenant), call_sid)
        except Exception:
            log.warning("AI cap release failed", exc_info=True, extra={"event": "ai_cap"})
        return True

    def refresh(self) -> int:
        """Extend the lease of every call this worker holds; how many were refreshed."""
        held = self.local.held()
        if not held:
            return 0
        expiry = time.time() + self.lease_s
        pipe = self.client.pipeline()
        for tenant, call_sid in held:
            pipe.zadd(self.key(tenant), {call_sid: expiry})
        pipe.execute()
        return len(held)

    def start_refresher(self) -> None:
        """One greenlet per worker refreshing leases every third of a lease (idempotent)."""
        if self.refresher is None:
            import gevent

            self.refresher = gevent.spawn(self._refresh_forever, self.lease_s / 3.0)

    def _refresh_forever(self, interval_s: float) -> None:
        import gevent

        while True:
            gevent.sleep(interval_s)
            try:
                self.refresh()
            except Exception:  # Redis away for a while: keep trying, the calls go on
                log.warning("AI cap lease refresh failed", exc_info=True,
                            extra={"event": "ai_cap"})


def make_gate(cfg):
    """The gate for this worker: Redis-backed (leases refreshed by a greenlet) with REDIS_URL."""
    if cfg.get("REDIS_URL"):
        import redis

        gate = RedisAiGate(redis.Redis.from_url(cfg["REDIS_URL"], socket_timeout=2),
                           float(cfg.get("AI_CAP_LEASE_S") or LEASE_S))
        gate.start_refresher()
        return gate
    return LocalAiGate()
