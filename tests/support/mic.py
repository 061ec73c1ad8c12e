"""Browser-microphone e2e helpers: Chromium with a fake microphone playing a tone, a recorded
conference of two simulated phones, and tone checks of their recordings (Goertzel, per frame).

Shared by tests/e2e/test_console_mic_e2e.py (one host) and test_console_mic_relay_e2e.py (page
and stream on different hosts)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, expect

from support.browser import chromium, fake_microphone
from support.tones import tone_levels, write_tone_wav
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
