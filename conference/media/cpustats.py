"""The worker's CPU pool on /metrics: tasks skipped for back-pressure, done, and in flight."""
from __future__ import annotations

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily

from agents import cpupool
from conference.media.metrics import REGISTRY, before_scrape, register_scrape_time

PENDING = Gauge("forkline_cpu_pool_pending", "CPU tasks queued or running", registry=REGISTRY,
                multiprocess_mode="livesum")
SKIPPED = Counter("forkline_cpu_pool_skipped", "CPU work skipped because the pool queue was full",
                  ["kind"], registry=REGISTRY)
DONE = Counter("forkline_cpu_pool_done", "CPU work finished in the pool", ["kind"],
               registry=REGISTRY)
OVERTOOK = Counter("forkline_cpu_pool_overtook", "Urgent CPU work (an agent's turn) run ahead of "
                   "queued transcript work", registry=REGISTRY)


class PoolPublisher:
    """Copies the shared pool's counts into metric objects (multiprocess mode sums workers).

    Called once per loop-stall window, never on the audio path; it never creates the pool.
    """

    def __init__(self) -> None:
        self._pool: object | None = None
        self._seen: dict[tuple[str, str], int] = {}
        self._overtook = 0

    def __call__(self) -> None:
        """Publish pending now, and skipped/done counts added since the last call."""
        pool = cpupool._shared
        if pool is not self._pool:  # a new pool counts from zero again
            self._pool, self._seen, self._overtook = pool, {}, 0
        PENDING.set(pool.pending if pool is not None else 0)
        if pool is None:
            return
        if (overtook := pool.overtook) > self._overtook:
            OVERTOOK.inc(overtook - self._overtook)
            self._overtook = overtook
        for name, counts, metric in (("skipped", pool.skipped, SKIPPED),
                                     ("done", pool.done, DONE)):
            for kind, count in list(counts.items()):
                new = count - self._seen.get((name, kind), 0)
                if new > 0:
                    self._seen[(name, kind)] = count
                    metric.labels(kind).inc(new)


publish = PoolPublisher()
_registered = False


def warm(extensions: dict) -> None:
    """Start this worker's pool process now, not on the first caller's utterance (~0.3 s)."""
    from agents.pipeline.pooled import warm_up

    if "cpu_pool_warm" not in extensions:
        extensions["cpu_pool_warm"] = cpupool.shared().submit("warm", warm_up)


def register() -> None:
    """Add the threads collector and the pool publisher to /metrics once per process."""
    global _registered
    if not _registered:
        _registered = True
        register_scrape_time(ThreadsCollector())
        before_scrape(publish)  # and once per loop-stall window while serving (sockets.py)


class ThreadsCollector:
    """forkline_threads_active: threads alive in this worker (greenlets under gevent's patch)."""

    def collect(self):
        """One gauge, read at scrape time."""
        import threading

        gauge = GaugeMetricFamily("forkline_threads_active",
                                  "Threads alive (greenlet-backed threads under gevent)")
        gauge.add_metric([], threading.active_count())
        return [gauge]


def configure_pool(workers: int, max_pending: int, nice: int = cpupool.DEFAULT_NICE,
                   policy: str = cpupool.DEFAULT_POLICY) -> None:
    """Size this worker's CPU pool from the app's config (a pool so configured is kept)."""
    pool = cpupool._shared
    wanted = (max(1, workers), max_pending, max(0, nice), policy)
    if pool is None or (pool.workers, pool.max_pending, pool.nice, pool.policy) != wanted:
        cpupool.configure(workers, max_pending, nice, policy)
