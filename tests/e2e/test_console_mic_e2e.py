"""Issue 11's whisper/barge acceptance: Chromium's fake microphone (a WAV of a 1.4 kHz tone) in
a conference run by the strict simulator, through Forkline under gunicorn.

The browser is an `app:` participant: whispering, the agent's phone hears the tone and the
customer's holds it below -50 dBFS at that frequency (a Goertzel signature, not loudness); in
barge both hear it; back in listen it is muted again; closing the page removes the participant.
No phone plays anything, so the tone in a recording can only come from the browser.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from support.tones import tone_levels, write_tone_wav

from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FREQ = 1400.0  # 28 periods per 20 ms frame; far from the beeps (440/880 Hz) and hold music
HEARD = -30.0  # dBFS at FREQ: the tone (-6 dBFS at the microphone) is there
ABSENT = -50.0  # dBFS at FREQ: nothing of it
TIMEOUT = 20.0
RING_S = 20.0  # the ringing agent of the pending-whisper test
PASSWORD = "mic test password 11"
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream"]


def _user(e2e, email: str) -> None:
    env = dict(e2e.stack.env)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "users", "create",
                           "--tenant", "e2e", "--email", email, "--role", "supervisor"],
                          cwd=ROOT, env=env, input=PASSWORD + "\n", text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def users(e2e):
    """Two supervisors of tenant e2e (made with the CLI, password on stdin)."""
    for email in ("mic@e2e.test", "nomic@e2e.test"):
        _user(e2e, email)
    return e2e


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """Debian's chromium whose fake microphone plays a steady FREQ tone."""
    wav = write_tone_wav(tmp_path_factory.mktemp("mic") / "tone.wav", FREQ, 10.0)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            *CHROMIUM, f"--use-file-for-fake-audio-capture={wav}"])
        try:
            yield browser
        finally:
            browser.close()


class Room:
    """A conference of a customer and an agent on simulated phones, recorded from the start."""

    def __init__(self, e2e, name: str, customer: str, agent: str,
                 joined=("customer", "agent")) -> None:
        self.e2e, self.name = e2e, name
        self.phones = {"customer": customer, "agent": agent}
        for number in self.phones.values():
            e2e.sim.record(number, "start")
        e2e.api.call("POST", "/api/conferences", {"name": name, "participants": [
            {"to": self.phones[label], "role": label, "label": label}
            for label in ("customer", "agent")]})
        self.until(lambda d: all(self.part(d, x).get("status") == "joined" for x in joined),
                   f"{' and '.join(joined)} to join")

    def detail(self) -> dict:
        return self.e2e.api.get(f"/api/conferences/{self.name}")

    @staticmethod
    def part(detail: dict, label: str) -> dict:
        return next((p for p in detail["participants"] if p["label"] == label), {})

    def browser_leg(self, detail: dict) -> dict:
        return next((p for p in detail["participants"] if p["label"].startswith("console-")), {})

    def until(self, predicate, what: str) -> dict:
        def check():
            d = self.detail()
            return d if predicate(d) else None
        return wait_for(check, TIMEOUT, 0.05, message=what)

    def frames(self, label: str) -> int:
        number = self.phones[label]
        return next(p["frames_heard"] for p in self.e2e.sim.phones() if p["number"] == number)

    def levels(self, label: str) -> list[float]:
        return tone_levels(self.e2e.sim.recording_wav(self.phones[label]), FREQ)

    def wait_heard(self, label: str, frames: int) -> None:
        wait_for(lambda: self.frames(label) >= frames, TIMEOUT, 0.05,
                 message=f"{label} to hear {frames} frames")

    def sim_member(self, call_sid: str):
        d = self.detail()
        return self.e2e.client.conferences(d["twilio_sid"]).participants(call_sid).fetch()

    def end(self) -> None:
        with contextlib.suppress(RuntimeError):  # never mask the test's own failure
            self.e2e.api.call("POST", f"/api/conferences/{self.name}/end", ok=(200,))


def signed_in_page(e2e, browser, email: str, microphone: bool):
    context = browser.new_context(permissions=["microphone"] if microphone else [])
    page = context.new_page()
    page.goto(e2e.stack.forkline_url + "/console/signin")
    page.get_by_label("Tenant").fill("e2e")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Live conferences")).to_be_visible()
    return context, page


def heard(levels: list[float], start: int) -> list[int]:
    return [i for i in range(start, len(levels)) if levels[i] > HEARD]


def test_whisper_then_barge_from_the_browser_microphone(users, chromium):
    e2e = users
    room = Room(e2e, "e2e-mic", "+15550301001", "+15550301002")
    context, page = signed_in_page(e2e, chromium, "mic@e2e.test", microphone=True)
    indicator = page.locator("#mic-indicator")
    try:
        page.goto(f"{e2e.stack.forkline_url}/console/conferences/{room.name}")
        expect(indicator).to_have_text("nothing (not in the call)")

        page.get_by_role("button", name="Listen, microphone muted (M)").click()
        expect(indicator).to_have_text("nothing (muted, listening)", timeout=TIMEOUT * 1000)
        d = room.until(lambda d: room.browser_leg(d).get("status") == "joined",
                       "the browser leg to join")
        leg = room.browser_leg(d)
        member = room.sim_member(leg["call_sid"])
        assert (member.muted, member.coaching) == (True, False)
        assert leg["role"] == "supervisor" and leg["mode"] == "listen"
        calls = {c["sid"]: c for c in e2e.sim.calls()}
        assert calls[leg["call_sid"]]["to"].startswith("app:")

        # Whisper: only the agent hears the microphone.
        page.keyboard.press("w")
        expect(indicator).to_have_text("your microphone to agent only (whispering)",
                                       timeout=TIMEOUT * 1000)
        member = room.sim_member(leg["call_sid"])
        agent_sid = room.part(room.detail(), "agent")["call_sid"]
        assert (member.muted, member.coaching, member.call_sid_to_coach) == \
            (False, True, agent_sid)
        at = {label: room.frames(label) for label in room.phones}
        wait_for(lambda: len(heard(room.levels("agent"), at["agent"])) >= 50, TIMEOUT, 0.1,
                 message="the agent to hear the whisper")
        room.wait_heard("customer", at["customer"] + 100)
        customer = room.levels("customer")
        assert max(customer[at["customer"]:]) < ABSENT, "the whisper leaked to the customer"
        assert page.evaluate("window.forklineSupervisor.sent") > 50

        # Barge (after a confirmation): the customer hears it too.
        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.get_by_role("button", name="Barge (B)").click()
        expect(indicator).to_have_text("your microphone to everyone (LIVE)",
                                       timeout=TIMEOUT * 1000)
        assert asked == ["Barge in: everyone in the conference will hear your microphone. "
                         "Continue?"]
        member = room.sim_member(leg["call_sid"])
        assert (member.muted, member.coaching) == (False, False)
        at = {label: room.frames(label) for label in room.phones}
        for label in room.phones:
            wait_for(lambda label=label: len(heard(room.levels(label), at[label])) >= 50,
                     TIMEOUT, 0.1, message=f"the {label} to hear the barge")

        # Listen mutes it again.
        page.keyboard.press("m")
        expect(indicator).to_have_text("nothing (muted, listening)", timeout=TIMEOUT * 1000)
        assert room.sim_member(leg["call_sid"]).muted is True
        at = {label: room.frames(label) for label in room.phones}
        for label in room.phones:
            room.wait_heard(label, at[label] + 75)
            assert max(room.levels(label)[at[label] + 5:]) < ABSENT, label

        # Closing the page takes the leg out of the conference.
        page.close()
        wait_for(lambda: any(c["params"].get("StatusCallbackEvent") == "participant-leave"
                             and c["params"].get("CallSid") == leg["call_sid"]
                             for c in e2e.sim.callbacks()), TIMEOUT, 0.1,
                 message="the browser leg's participant-leave")
        d = room.until(lambda d: room.browser_leg(d).get("status") == "left",
                       "Forkline to mark the browser leg left")
        assert {room.part(d, x).get("status") for x in room.phones} == {"joined"}
    finally:
        context.close()
        room.end()


def test_denied_microphone_leaves_the_conference_as_it_was(users, chromium):
    e2e = users
    room = Room(e2e, "e2e-nomic", "+15550302001", "+15550302002")
    context, page = signed_in_page(e2e, chromium, "nomic@e2e.test", microphone=False)
    indicator = page.locator("#mic-indicator")
    try:
        page.goto(f"{e2e.stack.forkline_url}/console/conferences/{room.name}")
        page.get_by_role("button", name="Listen, microphone muted (M)").click()
        expect(indicator).to_have_text("nothing (muted, listening)", timeout=TIMEOUT * 1000)
        leg = room.browser_leg(room.until(
            lambda d: room.browser_leg(d).get("status") == "joined", "the browser leg"))

        page.get_by_role("button", name="Whisper to agent (W)").click()
        expect(page.locator("#mic-message")).to_contain_text("Microphone unavailable")
        expect(page.locator("#mic-message")).to_contain_text("Nothing was changed.")
        expect(indicator).to_have_text("nothing (muted, listening)")
        leg = room.browser_leg(room.detail())
        assert (leg["mode"], leg["muted"], leg["coaching"]) == ("listen", True, False)
        member = room.sim_member(leg["call_sid"])
        assert (member.muted, member.coaching) == (True, False)
    finally:
        context.close()
        room.end()


def test_a_whisper_to_a_ringing_agent_waits_then_goes_to_the_agent(users, chromium):
    e2e = users
    agent = "+15550303002"
    # Rings long enough for sign-in, page and the browser's join on a busy machine.
    e2e.sim.answer_mode(agent, "answer", ring_seconds=RING_S)
    room = Room(e2e, "e2e-mic-pending", "+15550303001", agent, joined=("customer",))
    context, page = signed_in_page(e2e, chromium, "mic@e2e.test", microphone=True)
    indicator = page.locator("#mic-indicator")
    try:
        page.goto(f"{e2e.stack.forkline_url}/console/conferences/{room.name}")
        page.keyboard.press("m")
        expect(indicator).to_have_text("nothing (muted, listening)", timeout=TIMEOUT * 1000)
        page.keyboard.press("w")
        expect(indicator).to_have_text("nothing yet: whisper waits for agent to join")
        d = room.detail()
        assert room.part(d, "agent").get("status") != "joined"
        leg = room.browser_leg(d)
        assert (leg["mode"], leg["muted"], leg["coaching"]) == ("whisper", True, False)
        at = room.frames("customer")

        # The agent answers: its join switches the leg to coaching, and the page says so.
        expect(indicator).to_have_text("your microphone to agent only (whispering)",
                                       timeout=(RING_S + TIMEOUT) * 1000)
        member = room.sim_member(leg["call_sid"])
        assert (member.muted, member.coaching) == (False, True)
        agent_at = room.frames("agent")
        wait_for(lambda: len(heard(room.levels("agent"), agent_at)) >= 50, TIMEOUT, 0.1,
                 message="the agent to hear the whisper")
        assert max(room.levels("customer")[at:]) < ABSENT, "the whisper leaked to the customer"

        # The microphone goes away (unplugged): a message, nothing sent, the call unchanged.
        page.evaluate("window.forklineSupervisor.stream.getAudioTracks()[0]"
                      ".dispatchEvent(new Event('ended'))")
        expect(page.locator("#mic-message")).to_contain_text("Microphone disconnected")
        expect(indicator).to_have_text("nothing (no microphone); the call still has you in "
                                       "whisper")
        sent = page.evaluate("window.forklineSupervisor.sent")
        assert page.evaluate("window.forklineSupervisor.sending") is False
        member = room.sim_member(leg["call_sid"])
        assert (member.muted, member.coaching) == (False, True)
        room.wait_heard("agent", room.frames("agent") + 10)
        assert page.evaluate("window.forklineSupervisor.sent") == sent
    finally:
        context.close()
        room.end()
