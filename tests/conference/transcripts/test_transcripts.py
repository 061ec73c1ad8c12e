"""Fork transcription off the audio path, ordered storage, and the end-of-call summary."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from agents import audio, speech
from agents.base import AgentProfile
from agents.local import DEFAULT_FAQ
from agents.pipeline.offline import SphinxSTT, profile_corpus
from conference.media.registry import conf_key, get_plane
from conference.transcripts import summary
from conference.transcripts.live import ForkTranscriber, TranscriptService
from models import ConferenceSummary, TranscriptEntry, transaction
from tests.fakes.openai_http import FakeOpenAI
from tests.support.fork_speech import SILENCE, alice_fork, say, transcribe
from tests.support.seed import add_conference

pytestmark = pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")


@pytest.fixture
def conference(app):
    with app.app_context(), transaction() as session:
        tenant, conf = add_conference(session, "standup", status="in-progress")
        _, key = tenant.issue_api_key()
    return SimpleNamespace(tenant_id=tenant.id, id=conf.id, name="standup", key=key)


def fork(conference, label: str, role: str, call_sid: str):
    info = {"tenant": str(conference.tenant_id), "conference": conference.name, "label": label,
            "role": role, "call_sid": call_sid}
    start = SimpleNamespace(call_sid=call_sid, stream_sid="MZ" + call_sid)
    return SimpleNamespace(info=info, start=start)


class FrameClock:
    """Virtual wall time: Twilio delivers a 20 ms frame every 20 ms, so each one advances it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def publish(plane, clock: FrameClock, call_sid: str, ulaw: bytes) -> None:
    """Publish `ulaw` as Twilio would deliver it, at once, on the virtual clock."""
    for frame in audio.split_frames(ulaw):
        clock.now += 0.02
        plane.taps.publish(call_sid, frame)


def test_fork_transcriber_queues_on_the_tap_and_transcribes_in_its_worker():
    corpus = profile_corpus(AgentProfile(faq=DEFAULT_FAQ))
    transcriber, jobs = alice_fork(lambda: SphinxSTT(corpus))
    say(transcriber, "Where are you located?")  # the tap callback only enqueues
    assert jobs == [] and transcriber.queue.qsize() > 50
    transcriber.stop()
    transcriber.run()
    (_, info, text, started, ended, source), = jobs
    assert info["label"] == "alice" and info["role"] == "customer" and source == "fork"
    assert "located" in text and started < ended


def test_a_full_queue_drops_audio_instead_of_blocking():
    transcriber = ForkTranscriber({}, lambda: None, lambda *job: None)
    for _ in range(3100):
        transcriber(b"\xff" * 160)
    assert transcriber.dropped == 100


def test_forks_are_transcribed_ordered_and_summarised(app, conference):
    with app.app_context():
        plane = get_plane(app)
    clock = FrameClock()
    service = app.extensions["transcripts"] = TranscriptService(app, clock=clock)
    key = conf_key(str(conference.tenant_id), conference.name)
    alice, bob = fork(conference, "alice", "customer", "CA1"), fork(conference, "bob", "agent",
                                                                   "CA2")
    plane.add_fork(key, "alice", alice)
    plane.add_fork(key, "bob", bob)
    service.sync()
    assert plane.taps.has_subscribers("CA1") and plane.taps.has_subscribers("CA2")
    publish(plane, clock, "CA1", speech.synthesize_ulaw("Where are you located?") + SILENCE)
    publish(plane, clock, "CA2", speech.synthesize_ulaw("We are open from nine to five.")
                     + SILENCE)
    plane.remove_fork(key, "alice", alice)
    plane.remove_fork(key, "bob", bob)
    service.sync()  # detaches: both transcribers drain and stop
    assert not plane.taps.has_subscribers("CA1")
    for transcriber in service.pending[key]:
        assert transcriber.done.wait(30)
    service.sync()  # the conference has no forks left: summarise
    service.summary.join(30)
    plane.sink.join()

    client = app.test_client()
    body = client.get("/api/conferences/standup/transcript",
                      headers={"Authorization": f"Bearer {conference.key}"}).json
    speakers = [(e["speaker"], e["role"]) for e in body["entries"]]
    assert speakers == [("alice", "customer"), ("bob", "agent")]
    assert "located" in body["entries"][0]["text"] and "open" in body["entries"][1]["text"]
    assert body["entries"][0]["ended_at"] <= body["entries"][1]["started_at"]
    assert body["summary"]["method"] == "extractive" and "alice:" in body["summary"]["text"]


def test_extractive_summary_prefers_topic_lines_in_order():
    lines = [("alice", "Hi."), ("bob", "Hello."), ("alice", "My invoice is wrong."),
             ("bob", "Let me check the invoice."), ("alice", "Thanks."),
             ("ai", "The invoice was corrected.")]
    text = summary.extractive(lines, limit=3)
    assert text == ("alice: My invoice is wrong. bob: Let me check the invoice. "
                    "ai: The invoice was corrected.")


def _seed(app, conference, texts):
    with app.app_context(), transaction() as session:
        for i, (speaker, text) in enumerate(texts):
            session.add(TranscriptEntry(
                conference_id=conference.id, speaker=speaker, role="customer", text=text,
                started_at=_t(i), source="fork"))


def _t(i):
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i)


def test_llm_summary_through_the_openai_sdk_and_fallback(app, conference):
    _seed(app, conference, [("alice", "My invoice is wrong."), ("bob", "I fixed it.")])
    fake = FakeOpenAI().start()
    try:
        fake.replies = [{"text": "Alice reported a wrong invoice; Bob fixed it."}]
        settings = {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": fake.url}
        with app.app_context():
            row = summary.summarize_conference(conference.tenant_id, "standup", settings)
        assert (row.method, row.text) == ("llm", "Alice reported a wrong invoice; Bob fixed it.")
        sent = fake.requests_to("/v1/chat/completions")[0]["messages"][-1]["content"]
        assert sent == "alice: My invoice is wrong.\nbob: I fixed it."
        fake.failures["/v1/chat/completions"] = 500
        with app.app_context():
            row = summary.summarize_conference(conference.tenant_id, "standup", settings)
    finally:
        fake.stop()
    with app.app_context(), transaction() as session:
        rows = session.scalars(sa.select(ConferenceSummary)).all()
    assert len(rows) == 1 and rows[0].method == "extractive"


def test_extractive_summary_gives_every_speaker_a_line():
    lines = [("customer", "what are your opening hours"), ("customer", "where are you located"),
             ("customer", "how much does it cost"),
             ("ai", "We are open from nine to five, Monday to Friday.")]
    text = summary.extractive(lines, limit=3)
    assert "ai: We are open from nine to five, Monday to Friday." in text
    assert text.count("customer:") == 2


def test_with_an_openai_key_forks_use_openai_transcription(app, conference):
    from conference.transcripts.live import DefaultSTT

    fake = FakeOpenAI().start()
    try:
        fake.transcripts = ["Where are you located?"]
        app.config.update(OPENAI_API_KEY="sk-fake", OPENAI_BASE_URL=fake.url)
        stt = DefaultSTT(app)({"tenant": str(conference.tenant_id)})
        _, jobs = transcribe(lambda: stt, "Where are you?")
    finally:
        fake.stop()
    assert [job[2] for job in jobs] == ["Where are you located?"]
    (body,) = fake.requests_to("/v1/audio/transcriptions")
    assert body["model"] == "gpt-4o-transcribe" and audio.read_wav(body["file"])[1] == 8000


def test_transcript_backlog_and_drops_are_on_metrics(app):
    from conference.media import metrics
    from conference.transcripts import live

    service = TranscriptService(app)
    live._services.add(service)  # what init_app does for the app's own service
    transcriber = ForkTranscriber({}, lambda: None, lambda *job: None)
    transcriber.queue.maxsize = 3
    for _ in range(5):
        transcriber(b"\xff" * 160)  # nobody drains it: 3 queued, 2 dropped
    service.active[("t:c", "alice")] = ("MZ1", transcriber, lambda: None)
    dropped = metrics.value("forkline_transcript_dropped_frames_total")
    live.refresh_metrics()  # what the service loop does after each sync
    live.refresh_metrics()  # drops are counted once, however often it refreshes
    assert metrics.value("forkline_transcript_backlog_frames") >= 3
    assert metrics.value("forkline_transcript_dropped_frames_total") == dropped + 2
    assert metrics.value("forkline_transcript_forks") >= 1
    transcriber(b"\xff" * 160)  # one more drop: only it is added
    live.refresh_metrics()
    assert metrics.value("forkline_transcript_dropped_frames_total") == dropped + 3
