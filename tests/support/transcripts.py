"""Helpers for fork-transcript tests: spoken audio, a recognizer held mid-decode, a full run."""
from __future__ import annotations

import functools
import threading

from agents import audio, speech
from conference.transcripts.consumer import SharedTranscriber

SILENCE = audio.ULAW_SILENCE * 4800  # 600 ms closes an utterance


@functools.cache
def said(text: str) -> bytes:
    """`text` spoken (8 kHz mu-law) and followed by enough silence to end the utterance."""
    return speech.synthesize_ulaw(text) + SILENCE


def tap(fork, ulaw: bytes) -> None:
    """Deliver `ulaw` to a fork's tap callback in 20 ms frames, as the media plane does."""
    for frame in audio.split_frames(ulaw):
        fork(frame)


def finish(shared, *forks, timeout: float = 30) -> None:
    """Start the consumer, end `forks`, and wait until all their utterances are decoded."""
    shared.start()
    for fork in forks:
        shared.close(fork)
    assert shared.drain(timeout) and shared.decoders.wait_idle(timeout)


class HeldSTT:
    """A recognizer that says `text` only once released: a slow STT, without a clock."""

    def __init__(self, text: str = "hello") -> None:
        self.text = text
        self.entered = threading.Event()  # a decode has started
        self.release = threading.Event()
        self.calls = 0

    def transcribe(self, pcm: bytes):
        """Block until released, then the text."""
        self.calls += 1
        self.entered.set()
        assert self.release.wait(30), "the test never released the recognizer"
        return [(self.text, True)]


def answering_transcriber(text: str = "words") -> tuple[SharedTranscriber, HeldSTT, list]:
    """A shared transcriber whose recognizer answers `text` at once, and the jobs it hands on."""
    jobs: list = []
    stt = HeldSTT(text)
    stt.release.set()
    return SharedTranscriber(lambda info: stt, lambda *job: jobs.append(job)), stt, jobs
