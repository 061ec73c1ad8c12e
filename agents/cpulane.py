"""One CPU-pool lane: a single pool process fed one task at a time, urgent work first.

`ProcessPoolExecutor` runs what it was handed in submission order, so a decode an agent's
caller is waiting for would queue behind every fork transcript handed in before it. A lane
keeps its tasks here instead and hands the process the next one only when it is free (plus
`inflight - 1` queued, to hide the hand-over): urgent tasks overtake queued background ones,
and each class stays in order (a streamed utterance's pieces share one class and one lane).
"""
from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor

DEFAULT_INFLIGHT = 1

_Task = tuple[Future, Callable, tuple]


class Lane:
    """Queues tasks for one pool process; `start()` makes (or remakes) that process."""

    def __init__(self, start: Callable[[], ProcessPoolExecutor],
                 inflight: int = DEFAULT_INFLIGHT) -> None:
        self._start = start
        self.inflight = max(1, inflight)
        self.executor: ProcessPoolExecutor | None = None
        self._urgent: deque[_Task] = deque()
        self._background: deque[_Task] = deque()
        self._running = 0
        self.overtook = 0  # urgent tasks handed over while background work waited
        self._closed = False
        self._lock = threading.Lock()

    def put(self, fn: Callable, args: tuple, urgent: bool) -> Future:
        """Queue `fn(*args)`; the returned future completes with the pool process's result."""
        outer: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("lane shut down")
            (self._urgent if urgent else self._background).append((outer, fn, args))
        self._pump()
        return outer

    def _next(self) -> _Task | None:
        if self._urgent:
            self.overtook += bool(self._background)
            return self._urgent.popleft()
        return self._background.popleft() if self._background else None

    def _pump(self) -> None:
        """Hand queued tasks to the process while fewer than `inflight` are there."""
        while True:
            with self._lock:
                if self._closed or self._running >= self.inflight:
                    return
                if (task := self._next()) is None:
                    return
                self._running += 1
            outer, fn, args = task
            if not outer.set_running_or_notify_cancel():
                self._settled()
                continue
            try:
                inner = self._executor().submit(fn, *args)
            except BaseException as exc:  # noqa: BLE001 - a broken or shut-down process
                self._settled()
                outer.set_exception(exc)
                continue
            inner.add_done_callback(functools.partial(self._finish, outer))

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("lane shut down")
            if self.executor is None or self.executor._broken:
                # First use, or its process died (BrokenProcessPool): start afresh.
                self.executor = self._start()
            return self.executor

    def _settled(self) -> None:
        with self._lock:
            self._running -= 1

    def _finish(self, outer: Future, inner: Future) -> None:
        # Runs in the executor's result thread (a greenlet under gevent's patch).
        self._settled()
        if inner.cancelled():
            outer.set_exception(CancelledError())
        elif (exc := inner.exception()) is not None:
            outer.set_exception(exc)
        else:
            outer.set_result(inner.result())
        self._pump()

    def shutdown(self) -> None:
        """Cancel what is still queued here, then let the running task end and join."""
        with self._lock:
            self._closed = True
            queued = [*self._urgent, *self._background]
            self._urgent.clear()
            self._background.clear()
            executor, self.executor = self.executor, None
        for outer, _fn, _args in queued:
            if outer.cancel():  # and wake anyone in wait(), as executors do
                outer.set_running_or_notify_cancel()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def pids(self) -> list[int]:
        """Process ids of this lane's live process (none before first use)."""
        executor = self.executor
        return [] if executor is None else list(executor._processes)
