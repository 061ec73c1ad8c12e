"""Browser-microphone e2e helpers: Chromium with a fake microphone playing a tone, a recorded
conference of two simulated phones (an e2e_call.Call), and tone checks of their recordings.

Shared by tests/e2e/test_console_mic_e2e.py (one host) and test_console_mic_relay_e2e.py (page
and stream on different hosts)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, expect

from support.browser import chromium, fake_microphone
from support.e2e_call import Call, part
from support.tones import write_tone_wav

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


def signed_in_page(base: str, browser, email: str, password: str, microphone: bool,
                   tenant: str = "e2e"):
    """(context, page) of `email` signed in to the console at `base`."""
    context = browser.new_context(permissions=["microphone"] if microphone else [])
    page = context.new_page()
    page.goto(base + "/console/signin")
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Live conferences")).to_be_visible()
    return context, page


def heard(levels: list[float], start: int) -> list[int]:
    """The frames from `start` on where the tone is there."""
    return [i for i in range(start, len(levels)) if levels[i] > HEARD]
