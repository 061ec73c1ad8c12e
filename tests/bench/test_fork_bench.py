"""Keeps bench/fork_bench.py from rotting: its criteria and ratios, and a tiny pinned run of each
target (a few forks, a few seconds) through the Procfile's gunicorn and the bare sink."""
from __future__ import annotations

import pytest

from bench._forkstep import judge
from bench.fork_bench import ratios
from tests.support.processes import run_bench


def _row(**kw):
    return {"target": "forkline", "forks": 4, "connected": 4, "lost": 0, "errors": [],
            "loop_stall_p99": 0.02, "stt_skipped": 3} | kw


def test_capacity_criteria_allow_skipped_transcripts_but_not_lost_frames_or_stalls():
    assert judge(_row(), 40.0)  # skipped transcript work is reported, not a failure
    assert judge(_row(loop_stall_p99=0.04), 40.0)  # the (20, 40] ms bucket passes
    assert not judge(_row(loop_stall_p99=0.1), 40.0)
    assert not judge(_row(loop_stall_p99=None), 40.0)  # no stall measured: no verdict
    assert not judge(_row(lost=1), 40.0)
    assert not judge(_row(connected=3), 40.0)
    assert not judge({"target": "bare", "forks": 4, "errors": ["boom"]}, 40.0)


def test_ratios_are_against_the_bare_sink_of_the_same_run():
    rows = [{"target": "bare", "forks": 10, "us_per_frame": 50.0},
            {"target": "bare", "forks": 20, "us_per_frame": 40.0},
            {"target": "forkline", "forks": 10, "us_per_frame": 100.0}]
    out = ratios(rows, {"bare": 20, "forkline": 10})
    assert out["forkline"]["vs_bare"] == 0.5
    assert out["forkline"]["us_per_frame_at"] == 10  # the largest N both ran
    assert out["forkline"]["cpu_per_frame_vs_bare"] == 2.0
    assert ratios(rows, {"bare": 0, "forkline": 10})["forkline"]["vs_bare"] is None


@pytest.mark.slow
def test_a_few_pinned_forks_per_target_produce_a_report(tmp_path):
    args = ["--steps", "4", "--warmup", "0.5", "--duration", "2", "--drain", "1",
            "--attempts", "1", "--database-url", "sqlite"]
    run, report = run_bench("fork_bench", *args, report=tmp_path / "forks.json", timeout=300)
    assert "0:1" in run.stdout and "forks per core" in run.stdout
    rows = {r["target"]: r for r in report["rows"]}
    assert set(rows) == {"bare", "forkline", "forkline-notx"}
    for row in rows.values():
        assert row["forks"] == row["connected"] == 4 and row["errors"] == []
        assert row["sent"] == 4 * 125  # (0.5 + 2) s at 50 frames/s, per fork
        assert row["lost"] == 0  # counted by the server: every frame sent arrived
        assert row["loop_stall_max"] is not None and row["server_cpu"] > 0
    assert rows["forkline"]["backlog_frames_max"] is not None  # sampled from /metrics
    assert rows["bare"]["backlog_frames_max"] is None  # the sink has no transcripts
    assert set(report["capacity"]) == set(rows)
    assert report["capacity"]["bare"]["vs_bare"] == 1.0
