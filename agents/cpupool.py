"""A process pool for CPU-heavy steps (offline STT decode), shared by one worker's calls.

Under gevent a C extension that computes holds the hub: every other call on the worker stalls.
Work submitted here runs in separate processes (fresh `spawn` interpreters, so no gevent or
socket state is inherited). Waiting is `Future.result()`: under monkey patching the executor's
result thread is a greenlet, so a waiting greenlet yields to the hub; measured cheaper than a
native thread per wait (~150 us vs ~300 us of parent CPU per task, bench in the commit log).

Priority: pool processes run below the worker (`nice`, default +10, and SCHED_BATCH by
default), so on a shared core the hub wins the CPU whenever it has I/O to do and a busy pool
shows up as transcript backlog and skipped (counted) work, never as late audio. The local
agent's own recognition runs here too: at saturation it is later first audio (bench/README.md,
"Local agent: what blocked the hub").

Back-pressure: at most `max_pending` tasks are queued or running. A non-blocking submit beyond
that is skipped and counted (transcripts fall behind, audio never waits); a blocking one (an
agent's own turn) waits for a slot in the caller's greenlet. Blocking work is urgent: it has
its own slots and overtakes queued transcript work (agents/cpulane.py), so at saturation the
fork transcripts are what falls behind, not the agent's first audio.

`spawn` re-imports the serving process's `__main__` in each pool process: entry points must
guard their work with `if __name__ == "__main__"` (gunicorn, flask and app.py do).
"""
from __future__ import annotations

import atexit
import functools
import multiprocessing
import os
import threading
import zlib
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor

from agents.cpulane import DEFAULT_INFLIGHT, Lane

DEFAULT_WORKERS = 1
DEFAULT_PENDING = 8
DEFAULT_NICE = 10  # weight 110 against the worker's 1024: ~90% of a contended core to the hub
DEFAULT_POLICY = "batch"
POLICIES = {"other": "SCHED_OTHER", "batch": "SCHED_BATCH", "idle": "SCHED_IDLE"}
PARENT_CHECK_S = 1.0


def _init_process(parent: int, nice: int, policy: str) -> None:
    """Pool-process initializer: lower this process's CPU priority, then watch the parent."""
    _lower_priority(nice, policy)
    _watch_parent(parent)


def _lower_priority(nice: int, policy: str) -> None:
    """Run below the serving worker: `nice` more, and the scheduling `policy` (batch: no
    wake-up preemption of the worker; idle: only when the core has nothing else to do)."""
    if nice > 0:
        os.nice(nice)
    name = POLICIES.get(policy, "SCHED_OTHER")
    if name != "SCHED_OTHER" and hasattr(os, name):
        os.sched_setscheduler(0, getattr(os, name), os.sched_param(0))


def _watch_parent(parent: int) -> None:
    """Exit when the serving process is gone (even after kill -9).

    The executor's queues pickle both pipe ends into the child, so it would never see EOF and
    would outlive a killed worker forever. A thread checking the parent once a second is
    portable and, unlike PR_SET_PDEATHSIG, not tied to the thread that spawned the child.
    """

    from gevent import monkey

    # A native thread even if the entry script monkey-patched this process too (spawn re-runs
    # its module top level): a greenlet would never run while the task loop blocks.
    start_thread = monkey.get_original("_thread", "start_new_thread")
    sleep = monkey.get_original("time", "sleep")

    def watch() -> None:
        while os.getppid() == parent:
            sleep(PARENT_CHECK_S)
        os._exit(0)

    start_thread(watch, ())


class PoolFull(Exception):
    """The pool's queue is full (or it is shut down): the work was skipped and counted."""


class CpuPool:
    """Single-process lanes with bounded queues; a lane's process starts on first use.

    Tasks with a `key` always run in the same lane, in order (a streamed utterance's pieces
    reach the decoder that holds it); tasks without one go to the least loaded lane. Urgent
    tasks (by default the blocking ones: a caller is waiting) overtake queued background work
    and have slots of their own, so fork transcripts never hold an agent's turn back.
    """

    def __init__(self, workers: int = DEFAULT_WORKERS, max_pending: int = DEFAULT_PENDING,
                 nice: int = DEFAULT_NICE, policy: str = DEFAULT_POLICY,
                 inflight: int = DEFAULT_INFLIGHT) -> None:
        if policy not in POLICIES:
            raise ValueError(f"CPU pool policy must be one of {sorted(POLICIES)}, not {policy!r}")
        self.workers, self.max_pending = max(1, workers), max_pending
        self.nice, self.policy = max(0, nice), policy
        self.skipped: Counter[str] = Counter()  # kind -> tasks refused for back-pressure
        self.done: Counter[str] = Counter()
        # One set of slots per class: background work filling its queue never delays urgent.
        self._slots = {False: threading.BoundedSemaphore(max_pending),
                       True: threading.BoundedSemaphore(max_pending)}
        self._lock = threading.Lock()
        self._lanes = [Lane(self._start_process, inflight) for _ in range(self.workers)]
        self._load = [0] * self.workers
        self._closed = False

    def _start_process(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_process,
                                   initargs=(os.getpid(), self.nice, self.policy))

    def _lane(self, key: str | None) -> int:
        with self._lock:
            if self._closed:
                raise PoolFull("shut down")
            if key is None:
                lane = min(range(self.workers), key=self._load.__getitem__)
            else:
                lane = zlib.crc32(key.encode()) % self.workers
            self._load[lane] += 1
            return lane

    @property
    def pending(self) -> int:
        """Tasks queued or running now."""
        return sum(self._load)

    @property
    def overtook(self) -> int:
        """Urgent tasks that went ahead of queued background work, so far."""
        return sum(lane.overtook for lane in self._lanes)

    def submit(self, kind: str, fn, *args, block: bool = False, key: str | None = None,
               urgent: bool | None = None) -> Future:
        """Queue `fn(*args)` in a pool process; PoolFull (counted) when no slot is free."""
        urgent = block if urgent is None else urgent
        slots = self._slots[urgent]
        if self._closed or not slots.acquire(blocking=block):
            self.skipped[kind] += 1
            raise PoolFull(kind)
        lane: int | None = None
        try:
            lane = self._lane(key)
            future = self._lanes[lane].put(fn, args, urgent)
        except Exception:
            if lane is not None:
                with self._lock:
                    self._load[lane] -= 1
            slots.release()
            self.skipped[kind] += 1
            raise
        future.add_done_callback(functools.partial(self._finished, kind, lane, slots))
        return future

    def _finished(self, kind: str, lane: int, slots, _future: Future) -> None:
        with self._lock:  # done callbacks run in the executor's result thread
            self.done[kind] += 1
            self._load[lane] -= 1
        slots.release()

    def run(self, kind: str, fn, *args, block: bool = False, key: str | None = None,
            timeout: float | None = 60.0):
        """Submit and wait for the result (the waiting greenlet yields; PoolFull when skipped)."""
        return self.submit(kind, fn, *args, block=block, key=key).result(timeout)

    def shutdown(self) -> None:
        """Cancel what is queued, let running tasks end, and join the pool processes."""
        with self._lock:
            self._closed = True
        for lane in self._lanes:
            lane.shutdown()

    def pids(self) -> list[int]:
        """Process ids of the pool's live processes (for tests and benches)."""
        return [pid for lane in self._lanes for pid in lane.pids()]


_shared: CpuPool | None = None
_shared_lock = threading.Lock()


def shared() -> CpuPool:
    """This worker's pool (one per process, created on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CpuPool()
            atexit.register(_shared.shutdown)
        return _shared


def configure(workers: int, max_pending: int, nice: int = DEFAULT_NICE,
              policy: str = DEFAULT_POLICY) -> CpuPool:
    """Replace this worker's pool with one of the given size and priority (before any call)."""
    global _shared
    with _shared_lock:
        old, _shared = _shared, CpuPool(workers, max_pending, nice, policy)
    if old is not None:
        old.shutdown()
    return _shared
