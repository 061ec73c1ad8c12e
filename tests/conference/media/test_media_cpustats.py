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
