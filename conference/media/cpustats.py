"""The worker's CPU pool on /metrics: tasks skipped for back-pressure, done, and in flight."""
from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from agents import cpupool
from conference.media.metrics import register_scrape_time


class PoolCollector:
    """Reads the shared pool at scrape time (never creates it: scraping starts no process)."""

    def collect(self):
        """forkline_cpu_pool_{skipped,done}_total{kind} and forkline_cpu_pool_pending."""
        pool = cpupool._shared
        skipped = CounterMetricFamily("forkline_cpu_pool_skipped",
                                      "CPU work skipped because the pool queue was full",
                                      labels=["kind"])
        done = CounterMetricFamily("forkline_cpu_pool_done", "CPU work finished in the pool",
                                   labels=["kind"])
        pending = GaugeMetricFamily("forkline_cpu_pool_pending", "CPU tasks queued or running")
        if pool is not None:
            for kind, count in pool.skipped.items():
                skipped.add_metric([kind], count)
            for kind, count in pool.done.items():
                done.add_metric([kind], count)
        pending.add_metric([], pool.pending if pool is not None else 0)
        return [skipped, done, pending]


_collector: PoolCollector | None = None


def warm(extensions: dict) -> None:
    """Start this worker's pool process now, not on the first caller's utterance (~0.3 s)."""
    from agents.pipeline.pooled import warm_up

    if "cpu_pool_warm" not in extensions:
        extensions["cpu_pool_warm"] = cpupool.shared().submit("warm", warm_up)


def register() -> None:
    """Add the collector to the media registry once per process."""
    global _collector
    if _collector is None:
        _collector = PoolCollector()
        register_scrape_time(_collector)
        register_scrape_time(ThreadsCollector())


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
