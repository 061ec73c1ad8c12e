"""Replay rings per callSid: the last few seconds in and out, in memory or mirrored to Redis."""
from __future__ import annotations

from collections import deque

PER_S = 8000  # mu-law bytes per second


class Ring:
    """Frames with absolute indices, trimmed to `max_bytes` of audio (sans-I/O)."""

    __slots__ = ("frames", "max_bytes", "size", "next_index")

    def __init__(self, max_bytes: int) -> None:
        self.frames: deque[tuple[int, bytes]] = deque()
        self.max_bytes = max_bytes
        self.size = 0
        self.next_index = 0

    def append(self, data: bytes) -> int:
        """Store `data`; returns its index."""
        index = self.next_index
        self.frames.append((index, data))
        self.next_index += 1
        self.size += len(data)
        while self.size > self.max_bytes and len(self.frames) > 1:
            self.size -= len(self.frames.popleft()[1])
        return index

    def since(self, index: int) -> list[bytes]:
        """Frames with index >= `index` that are still held."""
        return [data for i, data in self.frames if i >= index]


class CallReplay:
    """One call's rings plus two cursors: inbound fed to the backend, outbound acknowledged."""

    __slots__ = ("inbound", "outbound", "fed", "out_acked", "dirty", "mirrored")

    def __init__(self, inbound_s: float, outbound_s: float) -> None:
        self.inbound = Ring(int(inbound_s * PER_S))
        self.outbound = Ring(int(outbound_s * PER_S))  # sent chunks, oldest first
        self.fed = 0  # inbound frames with index < fed reached the backend
        self.out_acked = 0  # outbound chunks with index < out_acked played at the caller
        self.dirty: list[tuple[str, bytes]] = []  # writes not yet mirrored to Redis
        self.mirrored: tuple[int, int] | None = None  # cursors as last mirrored

    def missed_inbound(self) -> list[bytes]:
        """Inbound frames the backend has not been fed yet."""
        return self.inbound.since(self.fed)

    def unacked_outbound(self) -> list[bytes]:
        """Outbound audio sent but never proven played."""
        return self.outbound.since(self.out_acked)


class ReplayStore:
    """Rings per callSid in this worker's memory."""

    def __init__(self, inbound_s: float = 8.0, outbound_s: float = 4.0) -> None:
        self.inbound_s, self.outbound_s = inbound_s, outbound_s
        self.calls: dict[str, CallReplay] = {}

    def get(self, call_sid: str) -> CallReplay:
        """The rings of `call_sid`, created empty (or loaded from a shared store) on first use."""
        replay = self.calls.get(call_sid)
        if replay is None:
            replay = self.calls[call_sid] = self._load(call_sid)
        return replay

    def _load(self, call_sid: str) -> CallReplay:
        return CallReplay(self.inbound_s, self.outbound_s)

    def add_inbound(self, replay: CallReplay, data: bytes) -> int:
        """Record a frame heard on the call."""
        return replay.inbound.append(data)

    def add_outbound(self, replay: CallReplay, data: bytes) -> int:
        """Record a chunk sent to the call."""
        return replay.outbound.append(data)

    def forget(self, call_sid: str) -> None:
        """Drop a finished call's rings."""
        self.calls.pop(call_sid, None)

    def rename(self, old_sid: str, new_sid: str) -> None:
        """Re-key this worker's rings of `old_sid` (a re-dialed AI continues that call)."""
        replay = self.calls.pop(old_sid, None)
        if replay is not None:
            self.calls[new_sid] = replay

    def flush(self) -> None:
        """Mirror pending writes (nothing to do in memory)."""

    def knows(self, call_sid: str) -> bool:
        """True while rings of `call_sid` exist (here, or in the shared store)."""
        return call_sid in self.calls


class RedisReplayStore(ReplayStore):
    """Memory rings mirrored to Redis in batches, so a worker taking over a call can resume it."""

    def __init__(self, client, inbound_s: float = 8.0, outbound_s: float = 4.0, ttl_s: int = 120):
        super().__init__(inbound_s, outbound_s)
        self.redis = client
        self.ttl_s = ttl_s

    def _key(self, call_sid: str) -> str:
        return f"forkline:replay:{call_sid}"

    def add_inbound(self, replay: CallReplay, data: bytes) -> int:
        replay.dirty.append(("in", data))
        return replay.inbound.append(data)

    def add_outbound(self, replay: CallReplay, data: bytes) -> int:
        replay.dirty.append(("out", data))
        return replay.outbound.append(data)

    def flush(self) -> None:
        """Write every call's pending frames and cursors in one pipeline (off the audio path)."""
        pipe = self.redis.pipeline(transaction=False)
        for call_sid, replay in list(self.calls.items()):
            cursors = (replay.fed, replay.out_acked)
            if not replay.dirty and cursors == replay.mirrored:
                continue  # an idle call costs no Redis traffic
            replay.mirrored = cursors
            key = self._key(call_sid)
            batch, replay.dirty = replay.dirty, []
            for kind in ("in", "out"):
                frames = [data for k, data in batch if k == kind]
                ring = replay.inbound if kind == "in" else replay.outbound
                if frames:
                    pipe.rpush(f"{key}:{kind}", *frames)
                    pipe.ltrim(f"{key}:{kind}", -max(1, len(ring.frames)), -1)
                pipe.expire(f"{key}:{kind}", self.ttl_s)
            pipe.hset(key, mapping={"in_next": replay.inbound.next_index, "fed": replay.fed,
                                    "out_next": replay.outbound.next_index,
                                    "out_acked": replay.out_acked})
            pipe.expire(key, self.ttl_s)
        pipe.execute()

    def _load(self, call_sid: str) -> CallReplay:
        replay = CallReplay(self.inbound_s, self.outbound_s)
        key = self._key(call_sid)
        meta = self.redis.hgetall(key)
        if not meta:
            return replay
        meta = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in meta.items()}
        for kind, ring, next_key in (("in", replay.inbound, "in_next"),
                                     ("out", replay.outbound, "out_next")):
            frames = self.redis.lrange(f"{key}:{kind}", 0, -1)
            ring.next_index = meta.get(next_key, len(frames)) - len(frames)
            for data in frames:
                ring.append(bytes(data))
        replay.fed = meta.get("fed", 0)
        replay.out_acked = meta.get("out_acked", 0)
        return replay

    def knows(self, call_sid: str) -> bool:
        return call_sid in self.calls or bool(self.redis.exists(self._key(call_sid)))

    def forget(self, call_sid: str) -> None:
        super().forget(call_sid)
        key = self._key(call_sid)
        self.redis.delete(key, f"{key}:in", f"{key}:out")
