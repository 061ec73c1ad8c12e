"""Issue 11's whisper/barge acceptance: Chromium's fake microphone (a WAV of a 1.4 kHz tone) in
a conference run by the strict simulator, through Forkline under gunicorn.

The browser is an `app:` participant: whispering, the agent's phone hears the tone and the
customer's holds it below -50 dBFS at that frequency (a Goertzel signature, not loudness); in
barge both hear it; back in listen it is muted again; closing the page removes the participant.
No phone plays anything, so the tone in a recording can only come from the browser.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect
from support.mic import ABSENT, TIMEOUT, Room, listen_muted, room_page

from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

RING_S = 20.0  # the ringing agent of the pending-whisper test
PASSWORD = "mic test password 11"
ROOT = Path(__file__).resolve().parents[2]


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


def test_whisper_then_barge_from_the_browser_microphone(users, mic_chromium):
    e2e = users
    room = Room(e2e, "e2e-mic", "+15550301001", "+15550301002")
    with room_page(mic_chromium, e2e.stack.forkline_url, room, "mic@e2e.test", PASSWORD,
                   microphone=True) as page:
        indicator = page.locator("#mic-indicator")
        expect(indicator).to_have_text("nothing (not in the call)")

        leg = listen_muted(page, room)
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
        room.wait_tone("agent", at["agent"], 50, "the agent to hear the whisper")
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
            room.wait_tone(label, at[label], 50, f"the {label} to hear the barge")

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


def test_denied_microphone_leaves_the_conference_as_it_was(users, mic_chromium):
    e2e = users
    room = Room(e2e, "e2e-nomic", "+15550302001", "+15550302002")
    with room_page(mic_chromium, e2e.stack.forkline_url, room, "nomic@e2e.test", PASSWORD,
                   microphone=False) as page:
        indicator = page.locator("#mic-indicator")
        leg = listen_muted(page, room)

        page.get_by_role("button", name="Whisper to agent (W)").click()
        expect(page.locator("#mic-message")).to_contain_text("Microphone unavailable")
        expect(page.locator("#mic-message")).to_contain_text("Nothing was changed.")
        expect(indicator).to_have_text("nothing (muted, listening)")
        leg = room.browser_leg(room.detail())
        assert (leg["mode"], leg["muted"], leg["coaching"]) == ("listen", True, False)
        member = room.sim_member(leg["call_sid"])
        assert (member.muted, member.coaching) == (True, False)


def test_a_whisper_to_a_ringing_agent_waits_then_goes_to_the_agent(users, mic_chromium):
    e2e = users
    agent = "+15550303002"
    # Rings long enough for sign-in, page and the browser's join on a busy machine.
    e2e.sim.answer_mode(agent, "answer", ring_seconds=RING_S)
    room = Room(e2e, "e2e-mic-pending", "+15550303001", agent, joined=("customer",))
    with room_page(mic_chromium, e2e.stack.forkline_url, room, "mic@e2e.test", PASSWORD,
                   microphone=True) as page:
        indicator = page.locator("#mic-indicator")
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
        room.wait_tone("agent", agent_at, 50, "the agent to hear the whisper")
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
