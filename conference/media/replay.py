"""Replay rings per callSid: the last few seconds in and out, in memory or mirrored to Redis."""
from __future__ import annotations

from array import array

PER_S = 8000  # mu-law bytes per second
# Frames of 20 ms or more keep the full duration: Twilio sends 20 ms, the AI's chunks are 100 ms.
# Shorter frames shorten what is kept (bounded by count), never overrun it.
MIN_FRAME_BYTES = 160


class Ring:
    """The newest `max_bytes` of audio with absolute frame indices (sans-I/O).

    Compact: one preallocated bytearray plus an array of frame lengths, both circular, so a
    held frame costs its bytes and 2 more (4 past 64 KB), never a Python object. Frames are
    materialised only when read (a reconnect). At most max_bytes // MIN_FRAME_BYTES frames are
    held (400 for 8 s in: 800 bytes of lengths); a single frame longer than the ring keeps its
    newest max_bytes.
    """

    __slots__ = ("buf", "lens", "max_bytes", "size", "next_index", "first_index", "written")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(1, max_bytes)
        self.buf = bytearray(self.max_bytes)
        # Frame lengths never exceed max_bytes: 2 bytes each for rings up to 64 KB (8 s in).
        code = "H" if self.max_bytes <= 0xFFFF else "I"
        slots = max(16, self.max_bytes // MIN_FRAME_BYTES)
        self.lens = array(code, bytes(array(code).itemsize * slots))
        self.size = 0  # bytes held
        self.next_index = 0
        self.first_index = 0  # oldest frame held (== next_index when empty)
        self.written = 0  # bytes ever written: the write position is written % max_bytes

    def __len__(self) -> int:
        return self.next_index - self.first_index

    def append(self, data: bytes) -> int:
        """Store `data`, evicting the oldest frames past max_bytes; returns its index."""
        cap, n = self.max_bytes, len(data)
        if n > cap:
            data, n = data[n - cap:], cap
        pos = self.written % cap
        if pos + n <= cap:  # the common case: one copy, no wrap
            self.buf[pos:pos + n] = data
        else:
            head = cap - pos
            self.buf[pos:] = data[:head]
            self.buf[:n - head] = data[head:]
        index, lens = self.next_index, self.lens
        slots = len(lens)
        lens[index % slots] = n
        self.next_index = index + 1
        self.written += n
        size = self.size + n
        first = self.first_index
        while size > cap or index - first >= slots:
            size -= lens[first % slots]
            first += 1
        self.size, self.first_index = size, first
        return index

    def restart_at(self, index: int) -> None:
        """Empty the ring so that the next frame appended gets `index` (a resumed call)."""
        self.next_index = self.first_index = index
        self.size = 0

    def since(self, index: int) -> list[bytes]:
        """Frames with index >= `index` that are still held, oldest first."""
        lens = self.lens
        end, out = self.written, []
        for i in range(self.next_index - 1, max(index, self.first_index) - 1, -1):
            n = lens[i % len(lens)]
            out.append(self._read(end - n, n))
            end -= n
        out.reverse()
        return out

    def _read(self, start: int, n: int) -> bytes:
        cap = self.max_bytes
        pos = start % cap
        if pos + n <= cap:
            return bytes(self.buf[pos:pos + n])
        return bytes(self.buf[pos:]) + bytes(self.buf[:pos + n - cap])

    @property
    def frames(self) -> list[tuple[int, bytes]]:
        """(index, frame) pairs held, oldest first (materialised: for reads, not the hot path)."""
        return list(enumerate(self.since(self.first_index), self.first_index))


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

    def release(self, call_sid: str) -> None:
        """Drop this worker's copy of a call that another worker took over (shared rings stay)."""
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
        self._stale: set[str] = set()  # calls whose mirror a failed flush left incomplete

    def _key(self, call_sid: str) -> str:
        return f"forkline:replay:{call_sid}"

    def add_inbound(self, replay: CallReplay, data: bytes) -> int:
        replay.dirty.append(("in", data))
        return replay.inbound.append(data)

    def add_outbound(self, replay: CallReplay, data: bytes) -> int:
        replay.dirty.append(("out", data))
        return replay.outbound.append(data)

    def flush(self) -> None:
        """Write every call's pending frames and cursors in one pipeline (off the audio path).

        When a pipeline fails (Redis gone), its frames are lost to the mirror: the calls it
        carried are rewritten whole from their rings on the next flush that succeeds, so a
        resume after an outage never replays frames under the wrong indices.
        """
        pipe = self.redis.pipeline(transaction=False)
        written = []
        for call_sid, replay in list(self.calls.items()):
            cursors, resync = (replay.fed, replay.out_acked), call_sid in self._stale
            if not resync and not replay.dirty and cursors == replay.mirrored:
                continue  # an idle call costs no Redis traffic
            replay.mirrored = cursors
            key = self._key(call_sid)
            batch, replay.dirty = replay.dirty, []
            for kind in ("in", "out"):
                ring = replay.inbound if kind == "in" else replay.outbound
                if resync:
                    pipe.delete(f"{key}:{kind}")
                    frames = ring.since(ring.first_index)
                else:
                    frames = [data for k, data in batch if k == kind]
                if frames:
                    pipe.rpush(f"{key}:{kind}", *frames)
                    pipe.ltrim(f"{key}:{kind}", -max(1, len(ring)), -1)
                pipe.expire(f"{key}:{kind}", self.ttl_s)
            pipe.hset(key, mapping={"in_next": replay.inbound.next_index, "fed": replay.fed,
                                    "out_next": replay.outbound.next_index,
                                    "out_acked": replay.out_acked})
            pipe.expire(key, self.ttl_s)
            written.append(call_sid)
        try:
            pipe.execute()
        except Exception:
            self._stale.update(written)
            raise
        self._stale.difference_update(written)

    def _load(self, call_sid: str) -> CallReplay:
        try:
            return self._load_mirror(call_sid)
        except Exception:  # Redis gone: a new call has nothing to resume; keep its audio going
            return CallReplay(self.inbound_s, self.outbound_s)

    def _load_mirror(self, call_sid: str) -> CallReplay:
        replay = CallReplay(self.inbound_s, self.outbound_s)
        key = self._key(call_sid)
        meta = self.redis.hgetall(key)
        if not meta:
            return replay
        meta = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in meta.items()}
        for kind, ring, next_key in (("in", replay.inbound, "in_next"),
                                     ("out", replay.outbound, "out_next")):
            frames = self.redis.lrange(f"{key}:{kind}", 0, -1)
            ring.restart_at(meta.get(next_key, len(frames)) - len(frames))
            for data in frames:
                ring.append(bytes(data))
        replay.fed = meta.get("fed", 0)
        replay.out_acked = meta.get("out_acked", 0)
        return replay

    def knows(self, call_sid: str) -> bool:
        if call_sid in self.calls:
            return True
        try:
            return bool(self.redis.exists(self._key(call_sid)))
        except Exception:  # Redis gone: only this worker's calls are known
            return False

    def release(self, call_sid: str) -> None:
        super().release(call_sid)
        self._stale.discard(call_sid)

    def forget(self, call_sid: str) -> None:
        super().forget(call_sid)
        self._stale.discard(call_sid)
        key = self._key(call_sid)
        self.redis.delete(key, f"{key}:in", f"{key}:out")  # if Redis is gone, the TTL does it
