"""Console pages: the live board and conference view over SSE, controls through the service
layer with the API's error messages, ended conferences with transcript, summary, recordings."""
from __future__ import annotations

import json
import os
import wave

import sqlalchemy as sa

from models import (
    Conference,
    ConferenceEvent,
    ConferenceSummary,
    Tenant,
    TranscriptEntry,
    get_session,
    transaction,
)
from models.times import utcnow


class Frames:
    """Reads `data:` frames of a console event stream from the test client."""

    def __init__(self, client, path: str) -> None:
        self.response = client.get(path, headers={"Accept": "text/event-stream"}, buffered=False)
        assert self.response.status_code == 200
        assert self.response.mimetype == "text/event-stream"
        self.chunks = iter(self.response.response)

    def next(self) -> dict:
        for chunk in self.chunks:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if text.startswith("data: "):
                return json.loads(text[len("data: "):])
        raise AssertionError("stream ended without a frame")

    def close(self) -> None:
        self.response.close()


def states(conf: dict) -> dict:
    return {p["label"]: p["state"] for p in conf["participants"]}


def test_board_lists_live_conferences_and_follows_state(room, console_as, twilio):
    console = console_as("acme", "sup@acme.test")
    html = console.client.get("/console/").get_data(as_text=True)
    assert 'data-name="room"' in html and "ringing" in html
    frames = Frames(console.client, "/console/board/events")
    try:
        first = frames.next()
        assert [c["name"] for c in first["conferences"]] == ["room"]
        assert states(first["conferences"][0]) == {"customer": "ringing", "agent": "ringing"}
        twilio.conference_event("conference-start")
        twilio.conference_event("participant-join", "customer")
        while states((frame := frames.next())["conferences"][0])["customer"] != "joined":
            pass
        twilio.conference_event("participant-mute", "customer", Muted="true")
        while states((frame := frames.next())["conferences"][0])["customer"] != "muted":
            pass
        twilio.conference_event("participant-leave", "customer")
        while states((frame := frames.next())["conferences"][0])["customer"] != "left":
            pass
        assert frame["conferences"][0]["status"] == "in-progress"
    finally:
        frames.close()


def test_board_never_shows_numbers_call_sids_or_keys(room, console_as, tenants):
    console = console_as("acme", "boss@acme.test")
    html = console.client.get("/console/").get_data(as_text=True)
    page = console.client.get("/console/conferences/room").get_data(as_text=True)
    frame = Frames(console.client, "/console/conferences/room/events").next()
    for text in (html, page, json.dumps(frame)):
        assert "+1555111000" not in text
        assert room["calls"]["customer"] not in text and room["sid"] not in text
        assert tenants["acme"][1] not in text


def test_conference_view_streams_escaped_transcript(twilio_app, room, console_as, tenants):
    console = console_as("acme", "sup@acme.test")
    frames = Frames(console.client, "/console/conferences/room/events")
    try:
        assert frames.next()["transcript"] == []
        with twilio_app.app_context(), transaction() as session:
            conf_id = session.scalar(sa.select(Conference.id))
            session.add(TranscriptEntry(conference_id=conf_id, speaker="customer",
                                        role="customer", text="<script>alert(1)</script> hi",
                                        started_at=utcnow(), source="fork"))
        frame = frames.next()
        assert frame["transcript"][0]["speaker"] == "customer"
    finally:
        frames.close()
    page = console.client.get("/console/conferences/room").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hi" in page


def test_controls_call_the_service_and_show_its_errors(twilio_app, room, console_as,
                                                       fake_twilio, twilio):
    console = console_as("acme", "sup@acme.test")
    twilio.conference_event("conference-start")
    missing = console.action("room/supervisors/supervisor-9/mode", {"mode": "barge"})
    assert missing.status_code == 404 and "supervisor-9" in missing.json["error"]["message"]
    bad = console.action("room/supervisors", {"to": "not-a-number", "mode": "listen"})
    assert bad.status_code == 422 and "to" in bad.json["error"]["fields"]
    no_mode = console.action("room/ai/mode", {})
    assert no_mode.status_code == 422 and no_mode.json["error"]["fields"] == {"mode": "required"}
    assert fake_twilio.take() == []
    ended = console.action("room/end")
    assert ended.status_code == 200 and ended.json == {"ok": True, "status": "completed"}
    assert "UpdateConference" in fake_twilio.ops()
    again = console.action("room/supervisors", {"to": "+15550009999", "mode": "listen"})
    assert again.status_code == 409  # the service refuses a write to an ended conference


def test_admin_adds_participant_through_the_service(twilio_app, room, console_as, fake_twilio,
                                                    twilio):
    console = console_as("acme", "boss@acme.test")
    twilio.conference_event("conference-start")
    added = console.action("room/participants", {"to": "+15551110003", "role": "agent",
                                                 "label": "agent2"})
    assert added.status_code == 200, added.json
    assert fake_twilio.ops() == ["CreateParticipant"]
    dup = console.action("room/participants", {"to": "+15551110004", "role": "agent",
                                               "label": "agent2"})
    assert dup.status_code == 409 and dup.json["error"]["code"] == "duplicate_label"


def test_ended_conference_shows_transcript_summary_and_recordings(twilio_app, room, console_as,
                                                                  tenants):
    console = console_as("acme", "sup@acme.test")
    assert console.action("room/end").status_code == 200
    with twilio_app.app_context(), transaction() as session:
        conf_id = session.scalar(sa.select(Conference.id))
        session.add(ConferenceSummary(conference_id=conf_id, text="Caller asked <b>hours</b>.",
                                      method="extractive"))
        session.add(TranscriptEntry(conference_id=conf_id, speaker="agent", role="agent",
                                    text="We open at nine.", started_at=utcnow(), source="fork"))
    listing = console.client.get("/console/ended").get_data(as_text=True)
    assert 'href="/console/conferences/room"' in listing
    page = console.client.get("/console/conferences/room").get_data(as_text=True)
    assert "Caller asked &lt;b&gt;hours&lt;/b&gt;." in page and "We open at nine." in page
    assert "<audio" not in page  # not opted in
    folder = twilio_app.config["RECORDINGS_DIR"] + f"/t{tenants['acme'][0]}-room"
    os.makedirs(folder)
    with wave.open(folder + "/mix.wav", "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 800)
    with twilio_app.app_context(), transaction() as session:
        session.get(Tenant, tenants["acme"][0]).recording_enabled = True
    page = console.client.get("/console/conferences/room").get_data(as_text=True)
    assert '<audio id="rec-1" controls' in page and "mix.wav" in page
    audio = console.client.get("/console/conferences/room/recordings/mix.wav")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.get_data()[:4] == b"RIFF"
    audio.close()
    assert console.client.get("/console/conferences/room/recordings/..%2Fx.wav").status_code == 404
    with twilio_app.app_context():
        assert get_session().scalar(sa.select(Conference.status)) == "completed"


def test_admin_creates_user_in_own_tenant(twilio_app, console_as):
    console = console_as("acme", "boss@acme.test")
    response = console.client.post("/console/users", data={
        "csrf_token": console.token, "email": "new@acme.test", "role": "supervisor",
        "password": "long enough password"})
    assert response.status_code == 302
    short = console.client.post("/console/users", data={
        "csrf_token": console.token, "email": "b@acme.test", "role": "supervisor",
        "password": "short"})
    assert short.status_code == 422 and "at least 12" in short.get_data(as_text=True)
    listing = console.client.get("/console/users").get_data(as_text=True)
    assert "new@acme.test" in listing and "boss@globex.test" not in listing


def media_event(app, event: str, source: str = "media", **payload) -> None:
    with app.app_context(), transaction() as session:
        conf_id = session.scalar(sa.select(Conference.id))
        n = session.scalar(sa.select(sa.func.count(ConferenceEvent.id)))
        session.add(ConferenceEvent(conference_id=conf_id, source=source, event=event,
                                    payload=payload, dedup_key=f"test:{event}:{n}"))


def test_speaking_indicator_and_markers_follow_media_events(twilio_app, room, console_as):
    console = console_as("acme", "sup@acme.test")
    frames = Frames(console.client, "/console/board/events")
    try:
        first = frames.next()["conferences"][0]
        assert first["markers"] == {"barge_in": False, "dropped_stream": False}
        media_event(twilio_app, "speech-started", speaker="customer", barge_in=True)
        frame = frames.next()["conferences"][0]
        speaking = {p["label"]: p["speaking"] for p in frame["participants"]}
        assert speaking == {"customer": True, "agent": False}
        assert frame["markers"]["barge_in"] is True
        media_event(twilio_app, "speech-stopped", speaker="customer", barge_in=False)
        media_event(twilio_app, "stream-error", source="stream", StreamError="closed")
        while not (frame := frames.next()["conferences"][0])["markers"]["dropped_stream"]:
            pass
        assert not any(p["speaking"] for p in frame["participants"])
    finally:
        frames.close()


def test_interrupted_ai_lines_are_marked_live_and_when_ended(twilio_app, room, console_as):
    console = console_as("acme", "sup@acme.test")
    with twilio_app.app_context(), transaction() as session:
        conf_id = session.scalar(sa.select(Conference.id))
        session.add(TranscriptEntry(conference_id=conf_id, speaker="ai", role="ai",
                                    text="We open <i>at</i>...", started_at=utcnow(),
                                    source="ai", item_id="item_1", interrupted=True))
        session.add(TranscriptEntry(conference_id=conf_id, speaker="ai", role="ai",
                                    text="Bye.", started_at=utcnow(), source="ai"))
    frames = Frames(console.client, "/console/conferences/room/events")
    try:
        lines = frames.next()["transcript"]
    finally:
        frames.close()
    assert [(line["text"], line["interrupted"]) for line in lines] == [
        ("We open <i>at</i>...", True), ("Bye.", False)]
    marked = ('<li class="line role-ai interrupted" data-interrupted="true"><span class="speaker">'
              'ai</span> <span class="text">We open &lt;i&gt;at&lt;/i&gt;...</span> <span '
              'class="cut"')
    live = console.client.get("/console/conferences/room").get_data(as_text=True)
    assert marked in live and live.count("(interrupted)</span>") == 1
    assert console.action("room/end").status_code == 200
    ended = console.client.get("/console/conferences/room").get_data(as_text=True)
    assert "No summary." in ended  # the ended page, not the live one
    assert marked in ended and ended.count("(interrupted)</span>") == 1
