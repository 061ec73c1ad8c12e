"""The transcript backlog gauges sum every gunicorn worker in prometheus multiprocess mode."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import multiprocess
from prometheus_client.parser import text_string_to_metric_families

from conference.media import metrics

ROOT = Path(__file__).resolve().parents[3]
# One gunicorn worker: `queued` frames waiting on its fork, `dropped` refused by a full queue.
WORKER = r"""
import os, sys
from conference.transcripts import backlog
from conference.transcripts.consumer import SharedTranscriber

queued, dropped = int(sys.argv[1]), int(sys.argv[2])
shared = SharedTranscriber(lambda info: None, lambda *job: None, max_frames=queued)
fork = shared.fork({})
for _ in range(queued + dropped):
    fork(b"\xff" * 160)
backlog.refresh([(shared, 1)])
print(os.getpid())
"""


def worker(directory: Path, queued: int, dropped: int) -> int:
    """Run one worker's refresh in its own process (multiprocess mode); returns its pid."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    done = subprocess.run([sys.executable, "-c", WORKER, str(queued), str(dropped)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def scraped(directory: Path) -> dict[str, float]:
    """One /metrics exposition over the directory, as any worker would answer it."""
    text = metrics.exposition(str(directory)).decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples
               if s.name.startswith("forkline_transcript")]
    names = [s.name for s in samples]
    # One unlabelled sample each: no per-pid series, no second copy read at scrape time.
    assert len(names) == len(set(names)) and not any(s.labels for s in samples), samples
    return {s.name: s.value for s in samples}


def test_backlog_forks_and_drops_are_summed_over_live_workers(tmp_path):
    first = worker(tmp_path, queued=3, dropped=2)
    worker(tmp_path, queued=5, dropped=1)
    assert scraped(tmp_path) == {"forkline_transcript_backlog_frames": 8.0,
                                 "forkline_transcript_forks": 2.0,
                                 "forkline_transcript_dropped_frames_total": 3.0,
                                 "forkline_transcript_skipped_utterances_total": 0.0}
    # gunicorn.conf.py's child_exit marks a dead worker: its gauges leave the sum, not its drops.
    multiprocess.mark_process_dead(first, path=str(tmp_path))
    after = scraped(tmp_path)
    assert after["forkline_transcript_backlog_frames"] == 5.0
    assert after["forkline_transcript_forks"] == 1.0
    assert after["forkline_transcript_dropped_frames_total"] == 3.0
