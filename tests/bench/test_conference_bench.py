"""Keeps bench/conference_bench.py and bench/soak.py from rotting: their pure parts, and a tiny run
of each (one conference, a few seconds) against the Procfile's gunicorn."""
from __future__ import annotations

import argparse
import math

import pytest

from bench._confclients import B_GAP_FRAMES, SILENCE, Script, audible
from bench._confstep import hist_quantile, pct
from bench.conference_bench import judge
from tests.support.processes import run_bench


def test_script_alternates_customer_question_and_agent_talking_over_the_answer():
    script = Script(b"\x10" * 160 * 5, b"\x20" * 160 * 3, cycle_frames=400)
    assert [script.phase(k) for k in (0, 4, 5)] == [("q", 0), ("q", 4), ("", 0)]
    b_start = 5 + B_GAP_FRAMES
    assert script.phase(b_start) == ("b", 0) and script.phase(b_start + 3) == ("", 0)
    assert script.phase(400) == ("q", 0)  # the next cycle


def test_silence_is_not_audible_but_speech_is():
    assert not audible(SILENCE)
    assert not audible(b"\x7f\xfe" * 80)  # the smallest magnitudes of both signs
    assert audible(bytes(range(0x00, 0xa0)))


def test_percentiles_and_histogram_bucket_quantiles():
    assert pct([], 0.5) is None
    assert pct(list(range(1, 101)), 0.95) == 95
    before = {0.01: 1.0, 0.04: 1.0, math.inf: 1.0}
    after = {0.01: 91.0, 0.04: 100.0, math.inf: 101.0}
    assert hist_quantile(before, after, 0.5) == 0.01
    assert hist_quantile(before, after, 0.99) == 0.04
    assert hist_quantile(before, after, 1.0) is None  # beyond the last finite bucket
    assert hist_quantile(after, after, 0.5) is None


def _row(**kw):
    row = {"agent": "echo", "connected": 3, "legs_expected": 3, "lost": 0, "errors": [],
           "rtt_p99": 10.0, "loop_stall_p99": 0.01, "decision_clear_p95": 0.02,
           "clear_silent_p95": 0.0, "barge_n": 4, "first_audio_p95": 30.0}
    return row | kw


def test_capacity_criteria():
    args = argparse.Namespace(p99_limit=40.0, barge_limit=150.0)
    idle = {"first_audio_p95": 20.0}
    assert judge(_row(), idle, args)
    assert not judge(_row(rtt_p99=41.0), idle, args)
    assert not judge(_row(lost=1), idle, args)
    assert not judge(_row(decision_clear_p95=0.1, clear_silent_p95=60.0), idle, args)
    assert not judge(_row(first_audio_p95=41.0), idle, args)  # > idle + one frame and > 1.2x
    assert not judge(_row(connected=2), idle, args)
    local = _row(agent="local", rtt_p99=None, loop_stall_p99=0.04)
    assert judge(local, idle, args)  # the (20, 40] ms bucket passes "< 40 ms"
    assert not judge(local | {"loop_stall_p99": 0.1}, idle, args)


@pytest.mark.slow
def test_one_conference_runs_through_the_procfile_server(tmp_path):
    args = ["--modes", "pinned", "--agents", "echo", "--steps", "1", "--warmup", "0.5",
            "--idle-duration", "4", "--drain", "1", "--database-url", "sqlite"]
    _, report = run_bench("conference_bench", *args, report=tmp_path / "conf.json",
                          timeout=240)
    (row,) = report["rows"]
    assert row["n"] == 1 and row["connected"] == 3 and row["errors"] == []
    assert sum(row["spread"]) == 3  # the worker held the conference's three sockets
    assert row["rtt_p50"] is not None  # the echo AI leg came back frame by frame
    assert row["barge_n"] >= 1 and row["onset_clear_p50"] > 0  # the agent's words cut the AI
    assert row["loop_stall_max"] is not None and row["server_cpu"] > 0
    (summary,) = report["summaries"]
    assert summary["mode"] == "pinned" and summary["agent"] == "echo"


@pytest.mark.slow
def test_soak_samples_and_plots(tmp_path):
    png = tmp_path / "soak.png"
    args = ["--conferences", "1", "--minutes", "0.1", "--interval", "3", "--mode", "pinned",
            "--png", str(png)]
    _, report = run_bench("soak", *args, report=tmp_path / "soak.json", timeout=240)
    assert report["connected"] == report["legs"] == 3
    assert len(report["rows"]) == 2
    first = report["rows"][0]
    assert first["sockets"] == 3 and first["fds"] > 3 and first["threads"] > 0
    assert set(report["verdict"]) >= {"rss_growth_pct", "leak_free", "lost", "stall_ok"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
