"""The worker's CPU pool is visible on the media registry without being started by a scrape."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from agents import cpupool
from conference.media import cpustats, metrics

ROOT = Path(__file__).resolve().parents[3]


def test_skipped_work_is_exported_per_kind(monkeypatch):
    cpustats.register()
    cpustats.register()  # idempotent: one collector per process
    pool = cpupool.CpuPool(workers=1, max_pending=2)
    monkeypatch.setattr(cpupool, "_shared", pool)  # restored after the test
    before = metrics.value("forkline_cpu_pool_skipped_total", kind="fork_stt")
    try:
        pool.skipped["fork_stt"] += 3
        cpustats.publish()  # what the serving worker's loop-stall monitor does each second
        cpustats.publish()  # counted once, however often it publishes
        assert metrics.value("forkline_cpu_pool_skipped_total", kind="fork_stt") == before + 3
        assert metrics.value("forkline_cpu_pool_pending") == 0
        assert pool.pids() == []  # publishing started no process
        pool.skipped["fork_stt"] += 1
        assert b'forkline_cpu_pool_skipped_total{kind="fork_stt"} %d.0\n' % (before + 4) in \
            metrics.exposition(None)  # a scrape publishes first: this worker's view is fresh
        fresh = cpupool.CpuPool(workers=1, max_pending=2)
        monkeypatch.setattr(cpupool, "_shared", fresh)  # a reconfigured pool counts from zero
        fresh.skipped["fork_stt"] += 1
        cpustats.publish()
        assert metrics.value("forkline_cpu_pool_skipped_total", kind="fork_stt") == before + 5
    finally:
        pool.shutdown()


def test_urgent_work_run_ahead_of_transcripts_is_counted(monkeypatch):
    pool = cpupool.CpuPool(workers=1, max_pending=2)
    monkeypatch.setattr(cpupool, "_shared", pool)
    before = metrics.value("forkline_cpu_pool_overtook_total")
    try:
        pool._lanes[0].overtook += 2  # what two agent turns ahead of queued transcripts leave
        cpustats.publish()
        cpustats.publish()
        assert metrics.value("forkline_cpu_pool_overtook_total") == before + 2
    finally:
        pool.shutdown()


WORKER = r"""
import os, sys
from agents import cpupool
from conference.media import cpustats

pool = cpupool._shared = cpupool.CpuPool(workers=1, max_pending=2)
pool.skipped["fork_stt"] += int(sys.argv[1])
pool._load[0] = int(sys.argv[2])  # tasks in flight, as the pool counts them
cpustats.publish()
print(os.getpid())
"""


def test_pool_metrics_are_summed_over_workers_in_multiprocess_mode(tmp_path):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    for skipped, pending in ((2, 1), (5, 3)):  # two gunicorn workers' pools
        done = subprocess.run([sys.executable, "-c", WORKER, str(skipped), str(pending)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    text = metrics.exposition(str(tmp_path)).decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples
               if s.name.startswith("forkline_cpu_pool")}
    assert samples[("forkline_cpu_pool_pending", ())] == 4
    assert samples[("forkline_cpu_pool_skipped_total", (("kind", "fork_stt"),))] == 7


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
