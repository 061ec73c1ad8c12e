"""Speech into a fork's transcriber, as the leg's tap would deliver it (the transcript tests)."""
from __future__ import annotations

from collections.abc import Callable

from agents import audio, speech
from conference.transcripts.live import ForkTranscriber

SILENCE = audio.ULAW_SILENCE * 4800  # 600 ms closes an utterance


def alice_fork(make_stt: Callable) -> tuple[ForkTranscriber, list[tuple]]:
    """The transcriber of customer alice's fork, and the list the jobs it hands on go to."""
    jobs: list[tuple] = []
    return ForkTranscriber({"label": "alice"}, make_stt, lambda *job: jobs.append(job)), jobs


def say(transcriber: ForkTranscriber, text: str) -> None:
    """`text` (synthesized) and 600 ms of silence, frame by frame through the tap callback."""
    for frame in audio.split_frames(speech.synthesize_ulaw(text) + SILENCE):
        transcriber(frame)


def transcribe(make_stt: Callable, text: str) -> tuple[ForkTranscriber, list[tuple]]:
    """Alice says `text`, then her fork's transcriber stops and runs to its end: (it, its jobs)."""
    transcriber, jobs = alice_fork(make_stt)
    say(transcriber, text)
    transcriber.stop()
    transcriber.run()
    return transcriber, jobs
