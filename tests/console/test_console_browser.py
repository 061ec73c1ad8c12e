"""The console in real Chromium: sign in, watch a conference appear and change, open it, see
transcript lines, get the API's error message, confirm before ending. Screenshots are saved."""
from __future__ import annotations

import math
import os
import shutil
import struct
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from support.browser import chromium, goertzel
from support.console import PASSWORD, Twilio
from werkzeug.serving import make_server

from agents.audio import pcm16_to_ulaw
from conference.media import registry
from models import Conference, TranscriptEntry, transaction
from models.times import utcnow
from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def app_config(app_config):
    """Served over plain http on 127.0.0.1 here, so the session cookie cannot be Secure."""
    return dict(app_config, CONSOLE_COOKIE_SECURE=False)


@pytest.fixture
def server(twilio_app, tenants):
    """The console app on a real HTTP server in a thread (SSE needs a streaming server)."""
    httpd = make_server("127.0.0.1", 0, twilio_app, threaded=True)
    # shutdown() waits for the serve loop's next poll: 0.5 s by default.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    assert twilio_app.extensions["console_streams"].close()  # before the tables are dropped
    httpd.shutdown()
    thread.join(10)


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def create_room(app, key: str, fake_twilio, tenant_id: int) -> dict:
    response = app.test_client().post(
        "/api/conferences", headers={"Authorization": f"Bearer {key}"},
        json={"name": "room", "participants": [
            {"to": "+15551110001", "role": "customer", "label": "customer"},
            {"to": "+15551110002", "role": "agent", "label": "agent"}]})
    assert response.status_code == 201, response.json
    fake_twilio.take()
    return {"sid": response.json["twilio_sid"], "friendly": f"t{tenant_id}-room",
            "calls": {p["label"]: p["call_sid"] for p in response.json["participants"]}}


def say(app, speaker: str, text: str) -> None:
    with app.app_context(), transaction() as session:
        conf_id = session.scalar(sa.select(Conference.id))
        session.add(TranscriptEntry(conference_id=conf_id, speaker=speaker, role=speaker,
                                    text=text, started_at=utcnow(), source="fork"))


def state_cell(page, label: str):
    return page.locator(f'tr[data-label="{label}"] .state').first


def test_console_in_chromium(twilio_app, tenants, server, browser, fake_twilio, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(server + "/console/")
    expect(page).to_have_url(server + "/console/signin?next=/console/")
    page.get_by_label("Tenant").fill("acme")
    page.get_by_label("E-mail").fill("sup@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Live conferences")).to_be_visible()
    expect(page.locator("#board-status")).to_have_text("Live")

    room = create_room(twilio_app, tenants["acme"][1], fake_twilio, tenants["acme"][0])
    twilio = Twilio(twilio_app.test_client(), twilio_app.config["TWILIO_AUTH_TOKEN"], room)
    card = page.locator('section.conf[data-name="room"]')
    expect(card).to_be_visible()  # appeared without a reload
    expect(state_cell(card, "customer")).to_have_text("ringing")
    twilio.conference_event("conference-start")
    twilio.conference_event("participant-join", "customer")
    expect(state_cell(card, "customer")).to_have_text("joined")
    twilio.conference_event("participant-join", "agent")
    twilio.conference_event("participant-mute", "agent", Muted="true")
    expect(state_cell(card, "agent")).to_have_text("muted")
    page.screenshot(path=str(tmp_path / "console_board.png"), full_page=True)

    card.get_by_role("link", name="room").click()
    expect(page.locator("#live-status")).to_have_text("Live")
    say(twilio_app, "customer", "My <b>order</b> is late")
    line = page.locator("#transcript li").first
    expect(line.locator(".speaker")).to_have_text("customer")
    expect(line.locator(".text")).to_have_text("My <b>order</b> is late")  # text, not markup
    say(twilio_app, "agent", "Let me check that for you")
    expect(page.locator("#transcript li").nth(1).locator(".speaker")).to_have_text("agent")
    twilio.conference_event("participant-leave", "customer")
    expect(state_cell(page.locator("#participants"), "customer")).to_have_text("left")

    page.get_by_label("Supervisor label").fill("supervisor-9")
    page.get_by_role("button", name="Switch supervisor").click()
    expect(page.locator("#action-error")).to_contain_text("supervisor-9")
    page.screenshot(path=str(tmp_path / "console_conference.png"), full_page=True)

    fake_twilio.take()  # the joins forked the humans' legs
    asked = []
    page.get_by_label("Supervisor label").fill("supervisor-1")
    page.locator("#supm-mode").select_option("barge")
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Switch supervisor").click()
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="End conference").click()
    assert asked == ["Barge in: everyone will hear this supervisor. Continue?",
                     "End this conference for everyone?"]
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="End conference").click()
    expect(page.locator("#conf-status")).to_have_text("completed")
    assert fake_twilio.ops() == ["UpdateConference"]  # the dismissed actions sent nothing

    for name in ("console_board.png", "console_conference.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    if os.environ.get("FORKLINE_UPDATE_DOCS"):  # refresh the README's pictures on request only
        DOCS.mkdir(exist_ok=True)
        for name in ("console_board.png", "console_conference.png"):
            shutil.copyfile(tmp_path / name, DOCS / name)


def tone_ulaw(freq: float, samples: int) -> bytes:
    pcm = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * n / 8000)))
                   for n in range(samples))
    return pcm16_to_ulaw(pcm)


def test_listen_plays_the_leg_through_the_audio_worklet(twilio_app, tenants, server, browser,
                                                         fake_twilio):
    room = create_room(twilio_app, tenants["acme"][1], fake_twilio, tenants["acme"][0])
    twilio = Twilio(twilio_app.test_client(), twilio_app.config["TWILIO_AUTH_TOKEN"], room)
    twilio.conference_event("conference-start")
    twilio.conference_event("participant-join", "customer")
    page = browser.new_page()
    page.goto(server + "/console/signin?next=/console/conferences/room%3Fcapture%3D1")
    page.get_by_label("Tenant").fill("acme")
    page.get_by_label("E-mail").fill("sup@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Listen to").select_option("customer")
    page.locator("h1").click()  # focus leaves the select: "L" is a shortcut, not typing
    page.keyboard.press("l")
    expect(page.locator("#listen-state")).to_have_text("listening")
    taps = registry.get_plane(twilio_app).taps
    wait_for(lambda: taps.has_subscribers(room["calls"]["customer"]), 5)
    taps.publish(room["calls"]["customer"], tone_ulaw(1000, 1600))  # 200 ms of a 1 kHz tone
    page.wait_for_function(
        "() => window.forklineListener.played.flatMap((b) => Array.from(b.played))"
        ".filter((x) => Math.abs(x) > 0.05).length >= 1000")  # a quarter of 1 kHz samples are 0
    played = page.evaluate(
        "() => window.forklineListener.played.flatMap((b) => Array.from(b.played))")
    loud = [i for i, x in enumerate(played) if abs(x) > 0.05]
    window = played[loud[0]:loud[0] + 1200]
    assert goertzel(window, 1000) > 100 * goertzel(window, 1500)  # the tone, not noise
    assert page.evaluate("() => window.forklineListener.received") == 1600
    page.get_by_role("button", name="Stop listening (L)").click()
    expect(page.locator("#listen-state")).to_have_text("stopped")
    wait_for(lambda: not taps.has_subscribers(room["calls"]["customer"]), 5)
