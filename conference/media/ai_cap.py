"""The tenant's AI cap, enforced where the paid session starts: at the AI stream's socket.

The admin API checks the cap when it dials; this gate also holds when someone opens AI sockets
directly. Live AI calls are counted per tenant, in this worker or, with REDIS_URL, across workers
(a sorted set per tenant scored by lease expiry, so a crashed worker's entries age out).
"""
from __future__ import annotations

import threading
import time

from conference.logs import get_logger

log = get_logger("media.ai_cap")
LEASE_S = 4 * 3600.0  # longer than any call; entries of a crashed worker expire after it


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

    def release(self, tenant: str, call_sid: str) -> None:
        """One of the call's AI sockets ended."""
        with self._lock:
            live = self._live.get(tenant, {})
            if live.get(call_sid, 0) > 1:
                live[call_sid] -= 1
            else:
                live.pop(call_sid, None)


class RedisAiGate:
    """Live AI callSids per tenant across workers (Redis sorted sets)."""

    def __init__(self, client) -> None:
        self.client = client

    def acquire(self, tenant: str, call_sid: str, cap: int) -> bool:
        """Count `call_sid` as live for `tenant` unless that would exceed `cap`."""
        key, now = f"forkline:ai-live:{tenant}", time.time()
        try:
            pipe = self.client.pipeline()
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {call_sid: now + LEASE_S})
            pipe.zcard(key)
            _, added, count = pipe.execute()
            if added and count > cap:
                self.client.zrem(key, call_sid)
                return False
            return True
        except Exception:  # Redis down: never refuse a call for it; the API's cap still holds
            log.warning("AI cap check failed", exc_info=True, extra={"event": "ai_cap"})
            return True

    def release(self, tenant: str, call_sid: str) -> None:
        """The call's AI socket ended."""
        try:
            self.client.zrem(f"forkline:ai-live:{tenant}", call_sid)
        except Exception:
            log.warning("AI cap release failed", exc_info=True, extra={"event": "ai_cap"})


def make_gate(cfg):
    """The gate for this worker: Redis-backed when REDIS_URL is set."""
    if cfg.get("REDIS_URL"):
        import redis

        return RedisAiGate(redis.Redis.from_url(cfg["REDIS_URL"], socket_timeout=2))
    return LocalAiGate()
