"""The worker's one transcriber: forks share one queue and one consumer; a fork is small state."""
from __future__ import annotations

import queue
import threading

import pytest

from agents import speech
from agents.pipeline.endpoint import Endpointer
from conference.transcripts.consumer import ForkState, SharedTranscriber
from tests.support.transcripts import SILENCE, answering_transcriber, finish, said, tap

needs_speech = pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")


def test_many_forks_share_one_consumer_and_make_no_recognizer_in_silence():
    made = []
    shared = SharedTranscriber(lambda info: made.append(info), lambda *job: None)
    before = set(threading.enumerate())
    forks = [shared.fork({"label": f"caller{i}"}) for i in range(10)]
    shared.start()
    shared.start()  # idempotent: the service calls it on every attach
    for fork in forks:
        tap(fork, SILENCE)
    assert shared.drain(30)
    started = [t.name for t in set(threading.enumerate()) - before]
    assert started == ["transcripts-consumer"]  # one consumer, no thread per fork
    assert all(fork.endpointer.position_ms == 600 for fork in forks)  # every frame endpointed
    assert made == []  # recognizers are made for speech, not per fork
    shared.stop()


def test_fork_state_holds_no_thread_queue_or_recognizer():
    shared = SharedTranscriber(lambda info: None, lambda *job: None)
    fork = shared.fork({"label": "alice", "tenant": "1"})
    assert not hasattr(fork, "__dict__") and not hasattr(fork.endpointer, "__dict__")
    held = [getattr(fork, name) for name in ForkState.__slots__]
    forbidden = (threading.Thread, queue.Queue, type(threading.Event()), type(threading.Lock()))
    assert not any(isinstance(value, forbidden) for value in held)
    assert isinstance(fork.endpointer, Endpointer) and fork.info["role"] == "customer"


@needs_speech
def test_two_forks_are_transcribed_by_one_consumer_each_as_its_speaker():
    shared, stt, jobs = answering_transcriber("words")
    alice, bob = shared.fork({"label": "alice"}), shared.fork({"label": "bob", "role": "agent"})
    tap(alice, said("Where are you located?"))
    tap(bob, said("We are open from nine to five."))
    finish(shared, alice, bob)
    shared.stop()
    assert sorted((job[1]["label"], job[1]["role"]) for job in jobs) == [
        ("alice", "customer"), ("bob", "agent")]
    assert alice.done and bob.done and stt.calls == 2


@needs_speech
def test_ending_one_fork_frees_only_its_state_and_flushes_its_last_words():
    shared, stt, jobs = answering_transcriber("words")
    alice, bob = shared.fork({"label": "alice"}), shared.fork({"label": "bob"})
    shared.start()
    tap(alice, speech.synthesize_ulaw("Where are you located?"))  # still talking at the end
    tap(bob, SILENCE)
    shared.close(alice)
    assert shared.drain(30) and shared.decoders.wait_idle(30)
    assert alice.endpointer is None and alice.done  # its VAD state is gone, its line written
    assert [job[1]["label"] for job in jobs] == ["alice"]
    assert bob.endpointer is not None and not bob.closed
    tap(bob, SILENCE)  # the other fork is still transcribed
    alice(SILENCE[:160])  # a frame that raced the detach is ignored, not an error
    assert shared.drain(30)
    assert bob.endpointer.position_ms == 1200
    shared.stop()
