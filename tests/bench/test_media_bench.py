"""Keeps bench/media_bench.py from rotting: frame matching, and a 2-stream run on the bare relay."""
from __future__ import annotations

import math

import pytest

from bench import _loopstall
from bench._loadgen import FRAME_BYTES, MAGIC, FrameScanner, encode_frame
from bench._report import capacities, percentile
from tests.support.processes import run_bench


def test_frame_ids_survive_rechunking_and_foreign_audio():
    stream = b"\xff" * 37 + b"".join(encode_frame(i) for i in (0, 1, 2, 0xABCDE, 7))
    scanner = FrameScanner()
    found = []
    for at in range(0, len(stream), 97):  # boundaries that never line up with frames
        found += scanner.feed(stream[at : at + 97])
    assert found == [0, 1, 2, 0xABCDE, 7]
    assert scanner.garbage == 37


def test_frame_is_one_20ms_mulaw_frame_with_a_single_marker():
    frame = encode_frame(123456)
    assert len(frame) == FRAME_BYTES
    assert frame.count(MAGIC) == 1


def test_incomplete_frame_waits_for_its_tail():
    scanner = FrameScanner()
    frame = encode_frame(5)
    assert scanner.feed(frame[:100]) == []
    assert scanner.feed(frame[100:]) == [5]


def test_percentile_and_capacity():
    assert percentile([], 99) is None
    assert percentile(list(range(1, 101)), 50) == 50
    assert percentile(list(range(1, 101)), 99) == 99
    rows = [{"target": "bare", "streams": 10, "passed": True},
            {"target": "bare", "streams": 20, "passed": False}]
    assert capacities(rows, ["bare"]) == {"bare": {"capacity": 10, "capped": False}}


def test_loop_stall_step_is_the_bucket_delta_between_two_scrapes():
    before = {0.001: 5.0, 0.01: 8.0, 0.1: 9.0, math.inf: 9.0}
    after = {0.001: 5.0 + 97, 0.01: 8.0 + 99, 0.1: 9.0 + 100, math.inf: 9.0 + 100}
    assert _loopstall.step(before, after) == {
        "loop_stall_p99_s": 0.01, "loop_stall_max_s": 0.1, "loop_stall_windows": 100}
    assert _loopstall.step(None, after)["loop_stall_p99_s"] is None


@pytest.mark.slow
def test_two_streams_against_the_bare_relay_produce_a_report(tmp_path):
    args = ["--targets", "bare", "--steps", "2", "--warmup", "0.5", "--duration", "1.5",
            "--drain", "2", "--attempts", "1"]
    run, report = run_bench("media_bench", *args, report=tmp_path / "bench.json", timeout=90)
    assert "capacity bare" in run.stdout
    (step,) = report["steps"]
    assert step["target"] == "bare" and step["streams"] == 2 and step["connected"] == 2
    assert step["sent"] == 2 * 100  # (0.5 + 1.5) s at 50 frames/s, per stream
    assert step["received"] + step["lost"] == step["sent"]
    assert step["received"] > 0 and step["errors"] == []
    assert isinstance(step["p50_ms"], float) and step["p99_ms"] >= step["p50_ms"]
    assert step["ms_per_media_msg"] == 20.0  # the relay answers frame for frame
    assert step["server_rss_mb"] > 0
    assert "bare" in report["capacity"]


@pytest.mark.slow
def test_forkline_target_streams_through_the_procfile_server(tmp_path):
    # The product path: Procfile command line, release migration, seeded conference, signed
    # upgrade and stream token; one stream must come back frame for frame with marks.
    args = ["--targets", "forkline", "--steps", "2", "--warmup", "0.5", "--duration", "1.5",
            "--drain", "2", "--attempts", "1"]
    _, report = run_bench("media_bench", *args, report=tmp_path / "bench.json", timeout=120)
    assert report["errors"] == {}, report["errors"]
    (step,) = report["steps"]
    assert step["connected"] == 2 and step["errors"] == []
    assert step["received"] > 0 and step["received"] + step["lost"] == step["sent"]
    assert step["marks"] > 0  # Forkline's mark-gated playout talked to the emulated buffer
    assert step["foreign_sid"] == 0
    assert step["loop_stall_windows"] >= 1  # the gunicorn worker's hub monitor was scraped
    assert step["loop_stall_max_s"] >= step["loop_stall_p99_s"] > 0
