"""The CPU pool: back-pressure skips and counts, decoders are reused, shutdown is clean."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import BrokenExecutor
from pathlib import Path

import pytest

from agents import audio, speech
from agents.base import AgentProfile
from agents.cpupool import CpuPool, PoolFull
from agents.local import DEFAULT_FAQ
from agents.pipeline.offline import profile_corpus
from agents.pipeline.pooled import PooledSphinxSTT, decoder_stats
from tests.fakes.pool_tasks import append_line, die, priority, wait_on_fifo

SILENCE = audio.ULAW_SILENCE * 4800
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pool():
    pool = CpuPool(workers=1, max_pending=1)
    yield pool
    pool.shutdown()


@pytest.fixture
def held(pool, tmp_path):
    """The pool's only slot, taken by a task that waits on a FIFO; call it to release."""
    fifo = str(tmp_path / "hold")
    os.mkfifo(fifo)
    future = pool.submit("hold", wait_on_fifo, fifo)

    def release() -> int:
        with open(fifo, "w") as writer:
            writer.write("go")
        return future.result(30)

    yield release
    if not future.done():
        release()


def call_guarded(fn):
    """Run `fn` in a thread; fails (instead of hanging) if it blocks."""
    out: list = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the call blocked on a full pool"
    return out[0]


def test_a_full_pool_skips_transcript_work_without_blocking(pool, held):
    stt = PooledSphinxSTT("hello", pool, kind="fork_stt")
    pcm = audio.ulaw_to_pcm16(SILENCE)
    assert call_guarded(lambda: list(stt.transcribe(pcm))) == []
    assert call_guarded(lambda: list(stt.transcribe(pcm))) == []
    assert pool.skipped["fork_stt"] == 2 and pool.pending == 1
    with pytest.raises(PoolFull):
        pool.submit("other", decoder_stats)
    assert pool.skipped["other"] == 1
    held()  # the slot frees once the running task ends
    assert pool.pending == 0 and pool.run("stats", decoder_stats)["created"] == 0


@pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")
def test_one_decoder_per_pool_process_serves_every_fork(pool):
    corpus = profile_corpus(AgentProfile(faq=DEFAULT_FAQ))
    pcm = audio.ulaw_to_pcm16(speech.synthesize_ulaw("Where are you located?") + SILENCE)
    forks = [PooledSphinxSTT(corpus, pool, kind="fork_stt") for _ in range(3)]
    texts = [list(stt.transcribe(pcm)) for stt in forks]
    assert all(text == [("where are you located", True)] for text in texts)
    stats = pool.run("stats", decoder_stats)
    assert stats == {"pid": stats["pid"], "created": 1, "held": 1}
    assert stats["pid"] != os.getpid()


def test_pool_processes_run_below_the_worker_priority():
    pool = CpuPool(workers=2, max_pending=4)  # defaults: nice +10, SCHED_BATCH
    try:
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        for key in ("a", "b", "c"):  # whichever lane runs it, and a lane started later too
            pid, nice, policy = pool.run("priority", priority, key=key)
            assert pid != os.getpid() and nice == min(19, mine + 10)
            assert policy == os.SCHED_BATCH
        assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # the worker itself is untouched
    finally:
        pool.shutdown()


@pytest.mark.parametrize(("nice", "policy", "expected"),
                         [(0, "other", os.SCHED_OTHER), (5, "idle", os.SCHED_IDLE)])
def test_pool_priority_is_configurable(nice, policy, expected):
    pool = CpuPool(workers=1, max_pending=2, nice=nice, policy=policy)
    try:
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert pool.run("priority", priority)[1:] == (min(19, mine + nice), expected)
    finally:
        pool.shutdown()


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="policy"):
        CpuPool(policy="realtime")


def test_shutdown_joins_the_processes_and_refuses_new_work():
    pool = CpuPool(workers=2, max_pending=4)
    assert pool.run("stats", decoder_stats)["created"] == 0
    pids = pool.pids()
    assert pids
    pool.shutdown()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind
    with pytest.raises(PoolFull):
        pool.submit("fork_stt", decoder_stats)
    assert pool.skipped["fork_stt"] == 1 and pool.pending == 0


@pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")
def test_a_streamed_utterance_is_decoded_in_order_by_the_decoder_it_holds():
    pool = CpuPool(workers=2, max_pending=8)
    try:
        corpus = profile_corpus(AgentProfile(faq=DEFAULT_FAQ))
        pcm = audio.ulaw_to_pcm16(speech.synthesize_ulaw("Where are you located?") + SILENCE)
        stt = PooledSphinxSTT(corpus, pool, kind="agent_stt", block=True)
        for _ in range(2):  # a second utterance reuses the decoder the first gave back
            stt.start()
            for start in range(0, len(pcm), 3200):  # 200 ms pieces, as the caller talks
                stt.feed(pcm[start:start + 3200])
            assert list(stt.finish()) == [("where are you located", True)]
        assert list(stt.finish()) == [("", True)]  # nothing open any more
        stats = pool.run("stats", decoder_stats, key=stt.key)  # the stream's own lane
        assert stats["created"] == 1 and stats["held"] == 1
    finally:
        pool.shutdown()


def test_a_dead_pool_process_costs_only_the_task_it_was_running(tmp_path):
    pool = CpuPool(workers=1, max_pending=2)
    fifo = str(tmp_path / "hold")
    os.mkfifo(fifo)
    try:
        held = pool.submit("hold", wait_on_fifo, fifo)
        stt = PooledSphinxSTT("", pool, kind="fork_stt")
        out: list = []
        waiter = threading.Thread(target=lambda: out.append(list(stt.transcribe(b"\0" * 320))))
        waiter.start()
        while pool.pending < 2:  # the decode is queued behind the held task
            time.sleep(0.01)
        (pid,) = pool.pids()
        os.kill(pid, signal.SIGKILL)
        waiter.join(30)
        with pytest.raises(BrokenExecutor):
            held.result(30)
        assert out == [[("", True)]]  # the queued utterance was decoded by a fresh process
        assert pool.run("stats", decoder_stats)["pid"] != pid
    finally:
        pool.shutdown()


def test_a_decode_whose_process_dies_is_skipped_and_counted():
    pool = CpuPool(workers=1, max_pending=2)
    try:
        stt = PooledSphinxSTT("", pool, kind="fork_stt")
        assert stt._run(die, key=None) is None and pool.skipped["fork_stt_crashed"] == 1
        assert list(stt.transcribe(b"\0" * 320)) == [("", True)]  # the lane starts afresh
    finally:
        pool.shutdown()


ORPHAN_DRIVER = r"""
import os
from agents.cpupool import CpuPool
from agents.pipeline.pooled import decoder_stats
pool = CpuPool(workers=1, max_pending=2)
print(pool.run("stats", decoder_stats)["pid"], flush=True)
os._exit(0)  # dies without shutting the pool down, as a worker killed with -9 would
"""


def test_pool_processes_do_not_outlive_a_killed_worker():
    worker = subprocess.run([sys.executable, "-c", ORPHAN_DRIVER], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    pid = int(worker.stdout.split()[0])
    deadline = time.monotonic() + 30
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling a process we may not wait on: no event to wait for
    assert not running(pid)


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie awaiting its new parent's reaping."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_agents_turn_overtakes_queued_fork_transcripts(tmp_path):
    pool = CpuPool(workers=1, max_pending=4)
    fifo, log = str(tmp_path / "hold"), str(tmp_path / "order")
    os.mkfifo(fifo)
    try:
        hold = pool.submit("fork_stt", wait_on_fifo, fifo)
        forks = [pool.submit("fork_stt", append_line, log, f"fork{i}") for i in range(3)]
        agent = pool.submit("agent_stt", append_line, log, "agent", block=True)
        with pytest.raises(PoolFull):  # the background slots are all taken ...
            pool.submit("fork_stt", append_line, log, "skipped")
        with open(fifo, "w") as writer:  # ... while the agent's turn had a slot of its own
            writer.write("go")
        for future in [hold, agent, *forks]:
            future.result(30)
        assert Path(log).read_text().split() == ["agent", "fork0", "fork1", "fork2"]
        assert pool.overtook == 1 and pool.skipped["fork_stt"] == 1 and pool.pending == 0
    finally:
        pool.shutdown()
