"""Shared decoders: a slow recognizer skips (and counts) utterances; audio and forks go on."""
from __future__ import annotations

import pytest

from agents import speech
from conference.media import metrics
from conference.transcripts import backlog
from conference.transcripts.consumer import SharedTranscriber
from conference.transcripts.decode import Decoders, decode_threads
from tests.support.transcripts import HeldSTT, said, tap

pytestmark = pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")


def test_a_slow_recognizer_skips_utterances_counted_and_the_tap_never_waits():
    jobs, made = [], []
    stt = HeldSTT("words")
    decoders = Decoders(lambda info: made.append(info) or stt, lambda *job: jobs.append(job),
                        threads=1, pending=1)
    shared = SharedTranscriber(lambda info: None, lambda *job: None, decoders=decoders)
    alice, bob = shared.fork({"label": "alice", "tenant": "1"}), shared.fork(
        {"label": "bob", "tenant": "1"})
    shared.start()
    tap(alice, said("Where are you located?"))
    assert stt.entered.wait(30)  # the first utterance is being decoded, and stays so
    tap(bob, said("We are open from nine to five."))  # waits for the one decoding thread
    tap(alice, said("How much does it cost?"))  # nowhere to wait: skipped
    assert shared.drain(30)  # the consumer endpointed everything meanwhile
    assert decoders.skipped == 1 and shared.dropped == 0 and len(decoders.threads) == 1
    skipped = metrics.value("forkline_transcript_skipped_utterances_total")
    backlog.refresh([(shared, 2)])
    backlog.refresh([(shared, 2)])  # counted once
    assert metrics.value("forkline_transcript_skipped_utterances_total") == skipped + 1
    stt.release.set()
    shared.close(alice)
    shared.close(bob)
    assert shared.drain(30) and decoders.wait_idle(30)
    shared.stop()
    assert sorted(job[1]["label"] for job in jobs) == ["alice", "bob"]
    assert len(made) == 1  # one recognizer for the tenant's forks, made at its first words


def test_a_recognizer_is_made_per_tenant_and_forgotten_when_its_forks_are_gone():
    made = []
    stt = HeldSTT()
    stt.release.set()
    decoders = Decoders(lambda info: made.append(info["tenant"]) or stt, lambda *job: None)
    shared = SharedTranscriber(lambda info: None, lambda *job: None, decoders=decoders)
    forks = {tenant: shared.fork({"tenant": tenant}) for tenant in ("1", "2")}

    def utterance(tenant: str) -> None:
        decoders.submit(forks[tenant], b"\0" * 320, 0.0, 0.0)
        assert decoders.wait_idle(30)

    for tenant in ("1", "2", "1"):
        utterance(tenant)
    assert made == ["1", "2"] and stt.calls == 3
    decoders.keep(["2"])  # tenant 1 has no fork left: its profile is loaded afresh next time
    utterance("1")
    assert made == ["1", "2", "1"]
    decoders.stop()


def test_an_utterance_waiting_as_mu_law_is_decoded_from_exactly_its_pcm():
    from agents import audio

    every_code = audio.ulaw_to_pcm16(bytes(range(256)))  # what the endpointer hands out
    heard = []

    class Recorder:
        def transcribe(self, pcm):
            heard.append(pcm)
            return [("words", True)]

    decoders = Decoders(lambda info: Recorder(), lambda *job: None)
    shared = SharedTranscriber(lambda info: None, lambda *job: None, decoders=decoders)
    decoders.submit(shared.fork({}), every_code, 0.0, 0.0)
    assert decoders.wait_idle(30)
    decoders.stop()
    assert heard == [every_code]  # mu-law to PCM16 and back is exact, for every code


@pytest.mark.parametrize(("config", "threads"), [
    ({}, 2),  # offline: the one pool process decodes one utterance at a time anyway
    ({"OPENAI_API_KEY": "sk-test"}, 8),  # each decode mostly waits on the network
    ({"OPENAI_API_KEY": "sk-test", "TRANSCRIBE_CONCURRENCY": 3}, 3),
    ({"TRANSCRIBE_CONCURRENCY": 0}, 2),  # unset-like: the default
])
def test_decode_concurrency_follows_the_recognizer_and_the_setting(config, threads):
    assert decode_threads(config) == threads
    decoders = Decoders(lambda info: None, lambda *job: None, decode_threads(config))
    assert decoders.max_threads == threads and decoders.jobs.maxsize >= threads
