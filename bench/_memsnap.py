"""Inside a gunicorn worker (bench/_hook_conf.py memsnap|tracemalloc): one memory snapshot.

Written on SIGUSR2 as snap-<pid>-<n>.json: RSS (and by allocator: bench/_allocstats.py), the
greenlets alive and the bytes of C stack they saved on the heap (greenlet's `_stack_saved`; traced
as allocations of the line where each greenlet last switched away, e.g. a socket's park), and live
gc-tracked objects by type; with tracemalloc on, the heap trace as snap-<pid>-<n>.tracemalloc.
What tracemalloc never sees: each greenlet's Python data stack (CPython 3.11 mmaps 16 KB chunks).
"""
from __future__ import annotations

import gc
import json
import os
import tracemalloc
from collections import Counter
from pathlib import Path

_count = [0]


def _greenlets() -> tuple[int, int, Counter, Counter]:
    import greenlet

    alive = [o for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead]
    saved = sum(getattr(g, "_stack_saved", 0) for g in alive)
    by_run, stack_by_run = Counter(), Counter()
    for g in alive:
        run = getattr(g, "_run", None) or getattr(g, "run", None)
        name = getattr(run, "__qualname__", type(g).__name__)
        if name == "Thread._bootstrap":  # a gevent-patched thread: say which one
            name = "thread:" + getattr(getattr(run, "__self__", None), "name", "?").split("-")[0]
        by_run[name] += 1
        stack_by_run[name] += getattr(g, "_stack_saved", 0)
    return len(alive), saved, by_run, stack_by_run


def _backlog() -> dict:
    """Audio waiting in the worker: the AI's unplayed output and the forks' transcript queues.

    Not per-socket state. With an echo backend (exactly real time) the AI's queue is playout
    time lost for good: it builds only while the mark round trip exceeds the playout lead
    (a loaded box), so the unacknowledged audio and the oldest unechoed mark say why."""
    from conference.logs import monotonic_ms

    unplayed = queued = unacked = trackers = decoding = skipped = 0
    oldest = 0.0
    now = monotonic_ms()
    for o in gc.get_objects():
        name = type(o).__name__
        if name == "PlayoutTracker":
            trackers += 1
            unplayed += sum(len(d) for _, d in o.pending)
            unacked += o.sent - o.acked
            oldest = max(oldest, o.oldest_mark_age(now))
        elif name == "SharedTranscriber":  # the worker's one transcript queue
            queued += o.frames.qsize()
            # Utterances waiting for a decoder thread: bounded per worker, not per fork.
            decoding += sum(len(job[1]) for job in list(o.decoders.jobs.queue)
                            if isinstance(job, tuple))
            skipped += o.decoders.skipped
    return {"unplayed_bytes": unplayed, "transcript_queue_frames": queued,
            "transcript_decode_bytes": decoding, "transcript_skipped": skipped,
            "unacked_bytes": unacked, "trackers": trackers, "oldest_mark_ms": oldest}


def _time_one_trim() -> float | None:
    """Milliseconds one malloc_trim(0) holds this worker (conference/media/heaptrim.py)."""
    import time

    from conference.media.heaptrim import glibc_malloc_trim

    trim = glibc_malloc_trim()
    if trim is None:
        return None
    started = time.perf_counter()
    trim(0)
    return (time.perf_counter() - started) * 1000


def write_snapshot(directory: str) -> str:
    """Write one snapshot; returns its path stem."""
    from bench._allocstats import allocator_stats
    from bench._procstat import rss_bytes

    _count[0] += 1
    os.makedirs(directory, exist_ok=True)
    stem = os.path.join(directory, f"snap-{os.getpid()}-{_count[0]}")
    backlog = _backlog()  # first: the walks below hold up the worker and age its marks
    n, saved, by_run, stack_by_run = _greenlets()
    types = Counter(type(o).__name__ for o in gc.get_objects())
    info = {"pid": os.getpid(), "rss": rss_bytes(os.getpid()), "greenlets": n,
            "stack_saved": saved, "greenlets_by_run": dict(by_run.most_common(12)),
            "stack_by_run": dict(stack_by_run.most_common(12)),
            "types": dict(types.most_common(60)), "tracing": tracemalloc.is_tracing(),
            "alloc": allocator_stats(), **backlog}
    info["trim_ms"] = _time_one_trim()  # after the readings: what the heap trimmer costs here
    if tracemalloc.is_tracing():
        info["traced"], info["traced_peak"] = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()  # the next snapshot's peak is the high-water since this one
        tracemalloc.take_snapshot().dump(stem + ".tracemalloc")
    Path(stem + ".json").write_text(json.dumps(info))
    return stem
