"""The worker's utterance decoders: a few threads and one recognizer per tenant, made on demand.

Forks own no recognizer: the first utterance of a tenant makes one (`make_stt(info)`; offline
it decodes in the CPU pool, agents/cpupool.py, whose processes keep the pocketsphinx decoders)
and every fork of that tenant shares it while the tenant has forks here. Threads start only
as utterances wait (at most `threads`); at most `pending` wait, and beyond that an utterance
is skipped and counted, so a slow recognizer costs transcript lines, never audio.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

from agents.audio import pcm16_to_ulaw, ulaw_to_pcm16
from conference.logs import get_logger
from conference.transcripts.store import store_line

log = get_logger("transcripts")
# Each utterance in flight holds its PCM16 (~16 KB a second) and, offline, a pickled copy in
# the CPU pool's queue, whose one process decodes one at a time anyway: few threads, a short
# queue (bench/stream_memory.py, 60 forks: 46-47 KB RSS per fork with these, 54-60 KB with 4
# threads and 16 waiting).
DECODE_THREADS = 2  # concurrent decodes (an OpenAI request, a wait on the CPU pool)
NETWORK_DECODE_THREADS = 8  # OpenAI transcription: each decode mostly waits on the network
DECODE_PENDING = 6  # utterances waiting for a thread (at least as many as there are threads)
_STOP = object()


def decode_threads(config: dict) -> int:
    """Concurrent fork decodes for this app: TRANSCRIBE_CONCURRENCY, else by recognizer kind."""
    if configured := config.get("TRANSCRIBE_CONCURRENCY"):
        return max(1, int(configured))
    return NETWORK_DECODE_THREADS if config.get("OPENAI_API_KEY") else DECODE_THREADS


class Decoders:
    """Decode utterances off the consumer; write each fork's lines through `write`."""

    def __init__(self, make_stt: Callable[[dict], object], write: Callable,
                 threads: int = DECODE_THREADS, pending: int = DECODE_PENDING) -> None:
        self.make_stt = make_stt
        self.write = write  # write(store_line, info, text, started, ended, "fork")
        self.max_threads = max(1, threads)
        self.jobs: queue.Queue = queue.Queue(max(pending, self.max_threads))
        self.threads: list[threading.Thread] = []
        self.stts: dict[str, Any] = {}  # tenant -> its recognizer
        self.skipped = 0  # utterances refused because `pending` were already waiting
        self.skipped_counted = 0  # how many of them are on the metrics counter
        self.busy = 0  # utterances submitted and not finished
        self._idle = threading.Condition()

    def submit(self, fork, pcm: bytes, started: float, ended: float) -> bool:
        """Queue one utterance of `fork` (a ForkState); False when it was skipped (counted)."""
        with self._idle:
            fork.decoding += 1
            self.busy += 1
            # Another thread only when every one is busy (the consumer alone submits).
            more = self.busy > len(self.threads) and len(self.threads) < self.max_threads
        try:
            # Waiting as mu-law, half of PCM16 (PCM16 from mu-law encodes back exactly).
            self.jobs.put_nowait((fork, pcm16_to_ulaw(pcm), started, ended))
        except queue.Full:
            self.skipped += 1
            self._finished(fork)
            return False
        if more:
            thread = threading.Thread(target=self._work, name="fork-stt", daemon=True)
            self.threads.append(thread)
            thread.start()
        return True

    def _work(self) -> None:
        while (job := self.jobs.get()) is not _STOP:
            fork, ulaw, started, ended = job
            try:
                text = self._text(fork.info, ulaw_to_pcm16(ulaw))
                if text.strip():
                    fork.lines += 1
                    self.write(store_line, fork.info, text, started, ended, "fork")
            except Exception:  # a recognizer failure costs this utterance, not the fork
                log.exception("fork transcription failed", extra={"event": "transcript_error"})
            finally:
                self._finished(fork)

    def _text(self, info: dict, pcm: bytes) -> str:
        tenant = str(info.get("tenant") or "")
        stt = self.stts.get(tenant)
        if stt is None:  # two threads may both make one: harmless, one is kept
            stt = self.stts[tenant] = self.make_stt(info)
        results = list(stt.transcribe(pcm))
        return results[-1][0] if results else ""

    def _finished(self, fork) -> None:
        with self._idle:
            fork.decoding -= 1
            self.busy -= 1
            self._idle.notify_all()

    def keep(self, tenants: Iterable[str]) -> None:
        """Forget the recognizers of tenants with no fork left (a new one reloads the profile)."""
        wanted = set(tenants)
        for tenant in [t for t in list(self.stts) if t not in wanted]:  # decoders add to it
            self.stts.pop(tenant, None)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted utterance is decoded (or skipped)."""
        with self._idle:
            return self._idle.wait_for(lambda: self.busy == 0, timeout)

    def stop(self) -> None:
        """End the threads after the utterances already queued."""
        for _ in self.threads:
            self.jobs.put(_STOP)
