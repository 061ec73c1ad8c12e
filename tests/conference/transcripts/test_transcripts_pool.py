"""Fork transcripts through the worker's CPU pool: a full pool skips and counts, never blocks."""
from __future__ import annotations

import os

import pytest

from agents import cpupool, speech
from agents.pipeline.pooled import PooledSphinxSTT
from conference.transcripts.live import DefaultSTT
from tests.fakes.pool_tasks import wait_on_fifo
from tests.support.fork_speech import transcribe

pytestmark = pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")


@pytest.fixture
def small_pool(monkeypatch):
    pool = cpupool.CpuPool(workers=1, max_pending=1)
    monkeypatch.setattr(cpupool, "_shared", pool)  # the worker's shared pool, for this test
    yield pool
    pool.shutdown()


def test_offline_forks_decode_in_the_shared_pool(app, small_pool):
    stt = DefaultSTT(app)({"tenant": "0"})
    assert isinstance(stt, PooledSphinxSTT) and stt.pool is None  # uses cpupool.shared()
    _, jobs = transcribe(lambda: stt, "Where are you located?")
    assert small_pool.done["fork_stt"] == 1 and small_pool.pids()  # decoded in a pool process
    assert len(jobs) == 1 and "located" in jobs[0][2]


def test_a_full_pool_skips_the_utterance_and_audio_keeps_flowing(app, small_pool, tmp_path):
    fifo = str(tmp_path / "hold")
    os.mkfifo(fifo)
    held = small_pool.submit("hold", wait_on_fifo, fifo)  # every slot busy
    try:
        # The tap callback (audio path) only enqueues; run() returns: the utterance was
        # skipped, not waited for.
        transcriber, jobs = transcribe(lambda: DefaultSTT(app)({}), "Where are you?")
        assert jobs == [] and transcriber.dropped == 0
        assert small_pool.skipped["fork_stt"] == 1
    finally:
        with open(fifo, "w") as writer:
            writer.write("go")
        held.result(30)
