"""Browser-microphone e2e helpers: Chromium with a fake microphone playing a tone, a recorded
conference of two simulated phones (an e2e_call.Call), and tone checks of their recordings.

Shared by tests/e2e/test_console_mic_e2e.py (one host) and test_console_mic_relay_e2e.py (page
and stream on different hosts)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, expect

from support.browser import chromium, fake_microphone, sign_in
from support.e2e_call import Call, part
from support.tones import write_tone_wav
from twilio_sim.testing import wait_for

FREQ = 1400.0  # 28 periods per 20 ms frame; far from the beeps (440/880 Hz) and hold music
HEARD = -30.0  # dBFS at FREQ: the tone (-6 dBFS at the microphone) is there
ABSENT = -50.0  # dBFS at FREQ: nothing of it
TIMEOUT = 20.0


@contextlib.contextmanager
def tone_chromium(folder: Path) -> Iterator[Browser]:
    """Debian's chromium whose fake microphone plays a steady FREQ tone."""
    wav = write_tone_wav(folder / "tone.wav", FREQ, 10.0)
    with chromium(*fake_microphone(wav)) as browser:
        yield browser


class Room(Call):
    """A conference of a customer and an agent on simulated phones, recorded from the start,
    created at once; `joined` are in it when it returns."""

    freq = FREQ
    part = staticmethod(part)

    def __init__(self, e2e, name: str, customer: str, agent: str,
                 joined=("customer", "agent")) -> None:
        super().__init__(e2e, name, customer, agent)
        self.create()
        self.until(lambda d: all(self.part(d, x).get("status") == "joined" for x in joined),
                   f"{' and '.join(joined)} to join")

    def browser_leg(self, detail: dict) -> dict:
        return next((p for p in detail["participants"] if p["label"].startswith("console-")), {})

    def sim_member(self, call_sid: str):
        d = self.detail()
        return self.e2e.client.conferences(d["twilio_sid"]).participants(call_sid).fetch()

    def wait_tone(self, label: str, since: int, frames: int, what: str) -> None:
        """Until the phone has heard the tone in `frames` frames from frame `since` on."""
        wait_for(lambda: len(heard(self.levels(label), since)) >= frames, TIMEOUT, 0.1,
                 message=what)


def listen_muted(page, room: Room) -> dict:
    """Join the room from its open console page, listening with the microphone muted; the
    browser leg, once it joined."""
    page.get_by_role("button", name="Listen, microphone muted (M)").click()
    expect(page.locator("#mic-indicator")).to_have_text("nothing (muted, listening)",
                                                        timeout=TIMEOUT * 1000)
    return room.browser_leg(room.until(lambda d: room.browser_leg(d).get("status") == "joined",
                                       "the browser leg to join"))


def signed_in_page(base: str, browser, email: str, password: str, microphone: bool,
                   tenant: str = "e2e"):
    """(context, page) of `email` signed in to the console at `base`."""
    context = browser.new_context(permissions=["microphone"] if microphone else [])
    page = context.new_page()
    sign_in(page, base, tenant, email, password=password)
    expect(page.get_by_role("heading", name="Live conferences")).to_be_visible()
    return context, page


@contextlib.contextmanager
def room_page(browser, base: str, room: Room, email: str, password: str,
              microphone: bool) -> Iterator:
    """`email`'s console page of `room` on the server at `base`; afterwards its browser context
    is closed and the room ended."""
    context, page = signed_in_page(base, browser, email, password, microphone)
    try:
        page.goto(f"{base}/console/conferences/{room.name}")
        yield page
    finally:
        context.close()
        room.end()


def heard(levels: list[float], start: int) -> list[int]:
    """The frames from `start` on where the tone is there."""
    return [i for i in range(start, len(levels)) if levels[i] > HEARD]
