"""gunicorn config for `flood_stall`: the checkout's own gunicorn.conf.py plus a hub-stall probe.

The same probe runs in every checkout measured (code from before issue 10 has no loop-stall
monitor of its own): a greenlet sleeps TICK_S and measures how late it wakes; every WINDOW_S it
sends `<epoch> <worst lateness s>` as one UDP datagram to $BENCH_STALL_ADDR (host:port), so a
stall is reported the moment the hub runs again, timestamped by the machine's clock.
"""
from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

_product = Path.cwd() / "gunicorn.conf.py"
_base: dict = {}
if _product.exists():
    exec(compile(_product.read_text(), str(_product), "exec"), _base)  # noqa: S102
    globals().update({k: v for k, v in _base.items() if not k.startswith("_")})

TICK_S = 0.005
WINDOW_S = 0.1


def _probe(addr: tuple[str, int]) -> None:
    import gevent

    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    worst, began, before = 0.0, time.perf_counter(), time.perf_counter()
    while True:
        gevent.sleep(TICK_S)
        now = time.perf_counter()
        worst = max(worst, now - before - TICK_S)
        before = now
        if now - began >= WINDOW_S:
            with contextlib.suppress(OSError):  # the bench went away: the worker carries on
                out.sendto(f"{time.time():.4f} {max(worst, 0.0):.6f}".encode(), addr)
            worst, began = 0.0, now


def post_worker_init(worker) -> None:
    """Run the product's hook, then start the stall probe."""
    if "post_worker_init" in _base:
        _base["post_worker_init"](worker)
    host, port = os.environ["BENCH_STALL_ADDR"].rsplit(":", 1)
    import gevent

    gevent.spawn(_probe, (host, int(port)))
