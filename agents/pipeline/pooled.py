"""pocketsphinx decoding in the CPU pool: decoders live in the pool processes and are reused.

A pool process keeps one decoder per corpus (the tenant's domain vocabulary), least recently
used first out, so a thousand forks of one tenant cost one decoder per pool process instead
of one each (~7 MB and ~20 ms of hub time per fork before).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator

from agents.cpupool import CpuPool, PoolFull, shared

MAX_DECODERS = 8  # per pool process

# State of a pool process (never used in the serving process itself).
_decoders: OrderedDict[str, object] = OrderedDict()
_created = 0


def _decoder(corpus: str):
    global _created
    from agents.pipeline.offline import SphinxSTT

    stt = _decoders.pop(corpus, None)
    if stt is None:
        stt = SphinxSTT(corpus or None)
        _created += 1
    _decoders[corpus] = stt
    while len(_decoders) > MAX_DECODERS:
        _decoders.popitem(last=False)
    return stt


def decode(corpus: str, pcm: bytes) -> str:
    """Pool task: the text of one 8 kHz PCM16 utterance, with the cached decoder of `corpus`."""
    results = list(_decoder(corpus).transcribe(pcm))
    return results[-1][0] if results else ""


def decoder_stats() -> dict:
    """Pool task: this process's id, decoders created so far, and decoders held."""
    return {"pid": os.getpid(), "created": _created, "held": len(_decoders)}


class PooledSphinxSTT:
    """SpeechToText whose decode runs in the CPU pool (whole utterances, not streamed).

    `block=False` (fork transcripts): a full pool skips the utterance (no text) and counts it.
    `block=True` (an agent's turn): the caller's greenlet waits for a slot; the hub never does.
    """

    def __init__(self, corpus: str | None = None, pool: CpuPool | None = None,
                 kind: str = "stt", block: bool = False) -> None:
        self.corpus = corpus or ""
        self.pool = pool
        self.kind, self.block = kind, block

    def transcribe(self, pcm: bytes) -> Iterator[tuple[str, bool]]:
        """Decode one whole utterance in the pool; yields nothing when it was skipped."""
        pool = self.pool or shared()
        try:
            text = pool.run(self.kind, decode, self.corpus, pcm, block=self.block)
        except PoolFull:
            return iter(())
        except TimeoutError:  # the slot stays taken until the decode really ends
            pool.skipped[self.kind + "_timeout"] += 1
            return iter(())
        return iter(((text, True),))
