"""What CPU-heavy steps cost the gevent hub, in the hub and through the CPU pool. Not a test.

  .venv/bin/python -m bench.cpu_offload [--rounds 3]

Runs monkey-patched, like a gunicorn gevent worker. A 2 ms ticker greenlet measures the worst
hub stall while each step runs; parent CPU is what the serving process itself spends.
Reports: waiting on a pool Future directly vs through gevent's native threadpool (parent CPU
per task), a pocketsphinx decode in the hub vs in the pool, espeak-ng synthesis, and starting
a program with gevent's Popen (a fork) vs posix_spawn, with --ballast-mb of touched memory.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import json
import subprocess
import time

import gevent

from agents import audio, speech
from agents.base import AgentProfile
from agents.cpupool import CpuPool
from agents.local import DEFAULT_FAQ
from agents.pipeline.offline import SphinxSTT, profile_corpus
from agents.pipeline.pooled import PooledSphinxSTT, decoder_stats
from agents.spawn import SpawnedReader

TICK_S = 0.002


class Ticker:
    """Worst lateness of a 2 ms sleep while a step runs."""

    def __init__(self) -> None:
        self.worst = 0.0
        gevent.spawn(self._run)

    def _run(self) -> None:
        before = time.perf_counter()
        while True:
            gevent.sleep(TICK_S)
            now = time.perf_counter()
            self.worst = max(self.worst, now - before - TICK_S)
            before = now

    def measure(self, step) -> dict:
        """Wall, parent CPU and worst hub stall of `step()`, in ms."""
        gevent.sleep(0.01)
        self.worst, cpu, wall = 0.0, time.process_time(), time.perf_counter()
        step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        gevent.sleep(TICK_S * 3)  # let the ticker see a stall that ended with the step
        return {"wall_ms": round(wall * 1e3, 1), "parent_cpu_ms": round(cpu * 1e3, 1),
                "max_stall_ms": round(self.worst * 1e3, 1)}


def wait_costs(pool: CpuPool, tasks: int = 300) -> dict:
    """Parent CPU per tiny pool task: Future.result() vs gevent threadpool wrapping it."""
    hub, out = gevent.get_hub(), {}
    for name, wait in (("future_result", lambda f: f.result()),
                       ("gevent_threadpool", lambda f: hub.threadpool.spawn(f.result).get())):
        cpu = time.process_time()
        for _ in range(tasks):
            wait(pool.submit("bench", decoder_stats))
        out[name + "_us"] = round((time.process_time() - cpu) / tasks * 1e6)
    return out


def _popen_true() -> None:
    subprocess.Popen(["true"]).wait()  # gevent's patched Popen: a fork of this process


def _spawn_true() -> None:
    reader = SpawnedReader(["true"])
    reader.read(1)
    reader.close()


def main() -> None:
    """Print one JSON line per measurement."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ballast-mb", type=int, default=300,
                        help="touched memory, so forks cost what they cost in a loaded worker")
    args = parser.parse_args()
    ballast = [bytearray(b"\1" * (1 << 20)) for _ in range(args.ballast_mb)]
    ticker, pool = Ticker(), CpuPool(workers=1, max_pending=8)
    corpus = profile_corpus(AgentProfile(faq=DEFAULT_FAQ))
    text = "We are open from nine to five, Monday to Friday. Where are you located?"
    pcm = audio.ulaw_to_pcm16(speech.synthesize_ulaw(text))
    pooled = PooledSphinxSTT(corpus, pool)
    list(pooled.transcribe(pcm))  # pool process up and its decoder built
    print(json.dumps({"wait": wait_costs(pool)}))
    for _ in range(args.rounds):
        print(json.dumps({
            "speech_s": round(len(pcm) / 16000, 2),
            "decoder_build_in_hub": ticker.measure(lambda: SphinxSTT(corpus)),
            "decode_in_hub": ticker.measure(lambda: list(SphinxSTT(corpus).transcribe(pcm))),
            "decode_in_pool": ticker.measure(lambda: list(pooled.transcribe(pcm))),
            "espeak_synthesis": ticker.measure(lambda: speech.synthesize_ulaw(text)),
            "start_program_gevent_popen": ticker.measure(_popen_true),
            "start_program_posix_spawn": ticker.measure(_spawn_true),
        }))
    pool.shutdown()
    del ballast


if __name__ == "__main__":
    main()
