"""The shared transcriber under gevent monkey patching, as a gunicorn gevent worker runs it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agents import speech

ROOT = Path(__file__).resolve().parents[3]
DRIVER = r"""
from gevent import monkey; monkey.patch_all()
import json, threading
from conference.transcripts.consumer import SharedTranscriber
from tests.support.transcripts import HeldSTT, said, tap

jobs, stt = [], HeldSTT("words")
shared = SharedTranscriber(lambda info: stt, lambda *job: jobs.append(job))
alice, bob = shared.fork({"label": "alice"}), shared.fork({"label": "bob"})
shared.start()
tap(alice, said("Where are you located?"))  # from this greenlet, as a media socket's would
held = stt.entered.wait(30)  # alice's decode waits (cooperatively) for the release
tap(bob, said("We are open from nine to five."))
drained = shared.drain(30)  # the consumer went on endpointing while alice's decode waited
threads = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
stt.release.set()
for fork in (alice, bob):
    shared.close(fork)
idle = shared.drain(30) and shared.decoders.wait_idle(30)
print(json.dumps({"held": held, "drained": drained, "idle": idle, "threads": threads,
                  "labels": sorted(job[1]["label"] for job in jobs)}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")
def test_one_consumer_and_shared_decoders_under_gevent():
    result = subprocess.run([sys.executable, "-c", DRIVER], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["held"] and report["drained"] and report["idle"]
    # One consumer for both forks; a decoder thread per utterance in flight, not per fork.
    threads = report["threads"]
    assert threads.count("transcripts-consumer") == 1 and threads.count("fork-stt") == 2
    assert report["labels"] == ["alice", "bob"]
