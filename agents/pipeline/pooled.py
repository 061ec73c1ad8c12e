"""pocketsphinx decoding in the CPU pool: decoders live in the pool processes and are reused.

A pool process keeps idle decoders per corpus (the tenant's domain vocabulary), so a thousand
forks of one tenant cost one decoder per pool process instead of one each (~7 MB and ~20 ms
of hub time per fork before). A streamed utterance holds a decoder until it is finished.
"""
from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor
from typing import Any

from agents.cpupool import CpuPool, PoolFull, shared

MAX_IDLE = 8  # idle decoders kept per pool process
MAX_STREAMS = 64  # open streamed utterances per pool process (an abandoned one is evicted)

# State of a pool process (never used in the serving process itself).
_idle: OrderedDict[tuple[str, int], object] = OrderedDict()  # (corpus, n) -> decoder
_streams: OrderedDict[str, tuple[str, Any]] = OrderedDict()  # key -> (corpus, decoder)
_created = 0
_keys = itertools.count()


def _take(corpus: str):
    global _created
    from agents.pipeline.offline import SphinxSTT

    for slot in _idle:
        if slot[0] == corpus:
            return _idle.pop(slot)
    _created += 1
    return SphinxSTT(corpus or None)


def _give_back(corpus: str, stt) -> None:
    _idle[(corpus, id(stt))] = stt
    while len(_idle) > MAX_IDLE:
        _idle.popitem(last=False)


def decode(corpus: str, pcm: bytes) -> str:
    """Pool task: the text of one 8 kHz PCM16 utterance, with an idle decoder of `corpus`."""
    stt = _take(corpus)
    try:
        results = list(stt.transcribe(pcm))
    finally:
        _give_back(corpus, stt)
    return results[-1][0] if results else ""


def stream_feed(key: str, corpus: str, pcm: bytes, first: bool) -> None:
    """Pool task: decode more of the utterance `key` (its first piece starts it)."""
    if first or key not in _streams:
        stream_finish(key)
        stt = _take(corpus)
        stt.start()
        _streams[key] = (corpus, stt)
        while len(_streams) > MAX_STREAMS:
            stream_finish(next(iter(_streams)))
    _streams[key][1].feed(pcm)


def stream_finish(key: str) -> str:
    """Pool task: end the utterance `key`; its text ("" when none is open)."""
    entry = _streams.pop(key, None)
    if entry is None:
        return ""
    corpus, stt = entry
    try:
        results = list(stt.finish())
    finally:
        _give_back(corpus, stt)
    return results[-1][0] if results else ""


def warm_up() -> int:
    """Pool task: load pocketsphinx ahead of the first utterance; returns the pid."""
    import pocketsphinx  # noqa: F401

    return os.getpid()


def decoder_stats() -> dict:
    """Pool task: this process's id, decoders created so far, and decoders held."""
    return {"pid": os.getpid(), "created": _created, "held": len(_idle) + len(_streams)}


class PooledSphinxSTT:
    """SpeechToText (and streaming) whose decoding runs in the CPU pool.

    `block=False` (fork transcripts): a full pool skips the utterance (no text) and counts it.
    `block=True` (an agent's turn): the caller's greenlet waits for a slot; the hub never does.
    Streamed pieces are not waited for; they run in order in the lane of the stream's key.
    """

    def __init__(self, corpus: str | None = None, pool: CpuPool | None = None,
                 kind: str = "stt", block: bool = False) -> None:
        self.corpus = corpus or ""
        self.pool = pool
        self.kind, self.block = kind, block
        self.key = f"{os.getpid()}-{next(_keys)}"
        self._first = False

    def _run(self, fn, *args, key: str | None) -> str | None:
        try:
            return (self.pool or shared()).run(self.kind, fn, *args, block=self.block, key=key)
        except PoolFull:
            return None
        except TimeoutError:  # the slot stays taken until the decode really ends
            (self.pool or shared()).skipped[self.kind + "_timeout"] += 1
            return None
        except BrokenExecutor:  # its process died; the lane starts a new one next time
            (self.pool or shared()).skipped[self.kind + "_crashed"] += 1
            return None

    def transcribe(self, pcm: bytes) -> Iterator[tuple[str, bool]]:
        """Decode one whole utterance in the pool; yields nothing when it was skipped."""
        # A whole utterance needs no decoder state: any lane (one recognizer may serve many
        # forks at once, e.g. every fork of a tenant).
        text = self._run(decode, self.corpus, pcm, key=None)
        return iter(()) if text is None else iter(((text, True),))

    def start(self) -> None:
        """Begin a streamed utterance (opened in the pool with its first piece)."""
        self._first = True

    def feed(self, pcm: bytes) -> None:
        """Queue more 8 kHz PCM16 of the utterance; PoolFull breaks the stream (caller decides)."""
        first, self._first = self._first, False
        (self.pool or shared()).submit(self.kind, stream_feed, self.key, self.corpus, pcm, first,
                                       block=self.block, key=self.key)

    def finish(self) -> Iterator[tuple[str, bool]]:
        """End the streamed utterance; yields its text once the pool has decoded it."""
        text = self._run(stream_finish, self.key, key=self.key)
        return iter(()) if text is None else iter(((text, True),))
