"""The worker's CPU pool is visible on the media registry without being started by a scrape."""
from __future__ import annotations

from agents import cpupool
from conference.media import cpustats, metrics


def test_skipped_work_is_exported_per_kind(monkeypatch):
    cpustats.register()
    cpustats.register()  # idempotent: one collector per process
    pool = cpupool.CpuPool(workers=1, max_pending=2)
    monkeypatch.setattr(cpupool, "_shared", pool)  # restored after the test
    try:
        pool.skipped["fork_stt"] += 3
        assert metrics.value("forkline_cpu_pool_skipped_total", kind="fork_stt") == 3
        assert metrics.value("forkline_cpu_pool_pending") == 0
        assert pool.pids() == []  # scraping started no process
    finally:
        pool.shutdown()


def test_pool_size_and_queue_bound_come_from_the_app_config(monkeypatch):
    monkeypatch.setattr(cpupool, "_shared", None)  # restored after the test
    cpustats.configure_pool(3, 5)
    pool = cpupool._shared
    try:
        assert (pool.workers, pool.max_pending) == (3, 5)
        cpustats.configure_pool(3, 5)
        assert cpupool._shared is pool  # same size: the running pool is kept
        cpustats.configure_pool(1, 8)
        assert (cpupool._shared.workers, cpupool._shared.max_pending) == (1, 8)
        assert pool.pids() == []  # sizing started no process
        cpustats.configure_pool(1, 8, nice=4, policy="idle")
        assert (cpupool._shared.nice, cpupool._shared.policy) == (4, "idle")  # replaced
    finally:
        cpupool._shared.shutdown()
        pool.shutdown()


def test_threads_are_exported():
    cpustats.register()
    assert metrics.value("forkline_threads_active") >= 1
