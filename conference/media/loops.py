"""Per-call background work, kept small: a bare greenlet under gevent, and deep calls run apart.

Every AI call has one long-lived loop (LiveCall's agent reader). Under gevent's patched
threading a `threading.Thread` is a greenlet plus a Thread object, its started-Event (a
Condition with its own deque), two locks and registry entries: ~2.5 KB per call for nothing a
daemon loop uses. And CPython (3.11+) gives every greenlet its own Python data stack (16 KB
chunks): the pages its deepest call touched stay resident for the greenlet's life, so a
one-off deep call (a database query, a backend's handshake) made by a long-lived loop costs
up to 12 KB per call for the whole call. `run_apart` makes such a call in a short-lived
greenlet, whose stack is freed when it ends (bench/README.md, memory per stream).
"""
from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _gevent_threads() -> bool:
    from gevent import monkey

    return monkey.is_module_patched("threading")


def try_lock():
    """A lock for non-blocking acquire only: the OS's own, even under gevent's patching.

    Never waited on, so it cannot block the hub; and unlike gevent's lock (which makes a
    native lock of its own and keeps its hub) it costs one small object per call."""
    from gevent import monkey

    return monkey.get_original("_thread", "allocate_lock")()


def start_loop(target: Callable[[], object], name: str) -> None:
    """Run `target` in the background: a greenlet under gevent, else a daemon thread."""
    if _gevent_threads():
        import gevent

        gevent.spawn(target)
    else:
        threading.Thread(target=target, name=name, daemon=True).start()


def run_apart(fn: Callable[[], T]) -> T:
    """`fn()` in a greenlet (or thread) of its own; waits for it, returns or raises its result.

    It runs in a copy of the caller's context (Flask's app and request stay current)."""
    result: list = []
    context = contextvars.copy_context()

    def call() -> None:
        try:
            result.append((True, context.run(fn)))
        except BaseException as exc:  # the caller's to handle (the hub would print it)
            result.append((False, exc))

    if _gevent_threads():
        import gevent

        gevent.spawn(call).join()
    else:
        thread = threading.Thread(target=call, name="run-apart", daemon=True)
        thread.start()
        thread.join()
    ok, value = result[0]
    if not ok:
        raise value
    return value
