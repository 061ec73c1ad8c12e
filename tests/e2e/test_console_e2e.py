"""Issue 11's console acceptance in real Chromium, driven by the strict simulator as Twilio and
the local (offline) agent, against the Procfile's gunicorn Forkline: no inserted rows.

The supervisor signs in, sees the conference appear on the board as the simulator's phones
ring and join, opens it, listens to the customer's leg (the test tone must come out of the
page's AudioWorklet within 1 s of the phone playing it), sees speaker-labelled transcript
lines as the customer talks and the AI answers, an AI answer the customer talks over marked
interrupted, the customer leaving, and the same marked line on the ended page.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from demo_audio import frame_levels, segments, wav_pcm
from playwright.sync_api import expect
from support.browser import RATE, chromium, played, sign_in, tone_onset

from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]
PHONES = {"customer": "+15550301001", "agent": "+15550301002"}
TONE_HZ = 1000.0
LIMIT_S = 1.0  # the issue: "contains the customer's test tone within 1 s of the phone playing"
SLOW = 60_000  # ms: offline STT and TTS share two cores with other test runs
DOCS = Path(__file__).resolve().parents[2] / "docs"


def state_cell(scope, label: str):
    return scope.locator(f'tr[data-label="{label}"] .state').first


def customer_levels(live) -> list[float]:
    return frame_levels(wav_pcm(live.sim.recording_wav(PHONES["customer"])))


def phone(live, number: str) -> dict:
    return next(p for p in live.sim.phones() if p["number"] == number)


def listen_and_time_the_tone(page, live) -> None:
    """Listen to the customer's leg; her tone is in the page's output within LIMIT_S.

    "Within 1 s" is proven on sample positions, not measured by the test's own clock: the
    simulator stamps the tick that said the tone's first frame (`play_started_at`, Unix time of
    its clock); the page's AudioContext maps its audio clock to Unix time
    (`getOutputTimestamp()`: which context time the speaker plays at which page time). The
    worklet stamps every block it outputs with its audio-clock time, so the tone's onset in the
    output has an audio-clock time too. The onset must come after the phone started the tone
    (it is this tone, not an earlier sound) and lie in the first LIMIT_S * 8000 samples the
    page played from then on. Both clocks are this machine's system clock.
    """
    page.get_by_label("Listen to").select_option("customer")
    page.locator("h1").click()  # focus leaves the select: "L" is a shortcut, not typing
    page.keyboard.press("l")
    expect(page.locator("#listen-state")).to_have_text("listening")
    page.wait_for_function("() => window.forklineListener.played.length > 50")  # it plays
    since = page.evaluate("() => window.forklineListener.played.length")
    before = phone(live, PHONES["customer"])["play_started_at"]
    live.sim.tone(PHONES["customer"], TONE_HZ, 600, dbfs=-12.0)
    started = wait_for(lambda: (phone(live, PHONES["customer"])["play_started_at"] or 0)
                       > (before or 0) and phone(live, PHONES["customer"])["play_started_at"],
                       10, 0.02, "the phone to start the tone")
    onset = wait_for(lambda: tone_onset(played(page, since), TONE_HZ), 10, 0.1,
                     "the tone in the page's audio output")
    clock = page.evaluate("() => window.forklineListener.clock()")
    started_ctx = clock["contextTime"] + (started * 1000 - clock["epochMs"]) / 1000
    samples_after = round((onset - started_ctx) * RATE)
    assert 0 < samples_after < LIMIT_S * RATE, (samples_after, clock)
    page.get_by_role("button", name="Stop listening (L)").click()
    expect(page.locator("#listen-state")).to_have_text("stopped")


def ask_and_interrupt(page, live) -> None:
    """The customer asks, the AI answers, and she talks over the answer (a barge-in)."""
    transcript = page.locator("#transcript")
    at = len(customer_levels(live))
    seconds = live.sim.play_fixture(PHONES["customer"], "opening_hours.wav")["seconds"]
    asked = at + round(seconds * 50)  # her recording's frame where her question ends
    expect(transcript.locator("li.role-customer .speaker").first).to_have_text(
        "customer", timeout=SLOW)
    # The AI's answer is at her ear (she never hears herself: any speech after her question is
    # the AI's) ...
    wait_for(lambda: segments(customer_levels(live), asked), SLOW / 1000, 0.05,
             "the AI's answer at the customer")
    live.sim.play_fixture(PHONES["customer"], "hello.wav")  # ... and she talks over it
    cut = transcript.locator('li[data-interrupted="true"]').first
    expect(cut.locator(".speaker")).to_have_text("ai", timeout=SLOW)
    expect(cut.locator(".cut")).to_have_text("(interrupted)")
    # As heard: the line ends where she cut in ("..."), and later lines still come in.
    expect(cut.locator(".text")).to_have_text(re.compile(r"\.\.\.$"))
    expect(transcript.locator("li.role-customer")).to_have_count(2, timeout=SLOW)


def test_supervisor_watches_listens_and_reads_a_live_conference(console_stack, tmp_path):
    live, name = console_stack, "e2e-console"
    base = live.servers["forkline"]
    for number in PHONES.values():
        live.sim.record(number, "start")
    live.sim.answer_mode(PHONES["agent"], "answer", ring_seconds=4)  # the board sees it ring
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "e2e", "sup@e2e.test")
        expect(page.get_by_role("heading", name="Live conferences")).to_be_visible()
        expect(page.locator("#board-status")).to_have_text("Live")
        live.api.call("POST", "/api/conferences", {"name": name, "participants": [
            {"to": PHONES[label], "role": label, "label": label} for label in PHONES]})
        card = page.locator(f'section.conf[data-name="{name}"]')
        expect(card).to_be_visible(timeout=SLOW)  # appeared without a reload
        expect(state_cell(card, "agent")).to_have_text("ringing", timeout=SLOW)
        expect(state_cell(card, "customer")).to_have_text("joined", timeout=SLOW)
        expect(state_cell(card, "agent")).to_have_text("joined", timeout=SLOW)
        page.screenshot(path=str(tmp_path / "console_board.png"), full_page=True)

        card.get_by_role("link", name=name).click()
        expect(page.locator("#live-status")).to_have_text("Live")
        # ?capture=1 (read when Listen starts): the worklet hands back what it played.
        page.evaluate("() => history.replaceState(null, '', location.pathname + '?capture=1')")
        listen_and_time_the_tone(page, live)

        live.api.call("PUT", f"/api/conferences/{name}/ai", {"agent": "default", "mode": "speak"},
                      ok=(200, 201))
        participants = page.locator("#participants")
        expect(state_cell(participants, "ai")).to_have_text("joined", timeout=SLOW)
        ask_and_interrupt(page, live)
        page.screenshot(path=str(tmp_path / "console_conference.png"), full_page=True)

        live.sim.hangup(PHONES["customer"])
        expect(state_cell(participants, "customer")).to_have_text("left", timeout=SLOW)
        live.api.call("POST", f"/api/conferences/{name}/end", ok=(200,))
        expect(page.locator("#conf-status")).to_have_text("completed", timeout=SLOW)
        page.reload()  # the ended page: the record, with the cut line still marked
        expect(page.get_by_role("heading", name="Summary")).to_be_visible()
        ended = page.locator('#transcript li[data-interrupted="true"]').first
        expect(ended.locator(".cut")).to_have_text("(interrupted)")
        expect(page.locator("#transcript li.role-customer").first).to_be_visible()

    for shot in ("console_board.png", "console_conference.png"):
        assert (tmp_path / shot).stat().st_size > 10_000
        if os.environ.get("FORKLINE_UPDATE_DOCS"):  # refresh the README's pictures on request
            DOCS.mkdir(exist_ok=True)
            shutil.copyfile(tmp_path / shot, DOCS / shot)
