"""Real Chromium (Debian's) for page tests, and reading what a page's AudioWorklet played."""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from support.console import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]
RATE = 8000


@contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """A headless Chromium (with `extra_args` on its command line), closed afterwards."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def fake_microphone(wav: Path | str) -> list[str]:
    """Chromium flags for a fake microphone that plays the WAV file `wav` (looped)."""
    return ["--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={wav}"]


def sign_in(page: Page, base: str, tenant: str, email: str, next_path: str = "/console/",
            password: str = PASSWORD) -> None:
    """Fill and submit the console's sign-in form, landing on `next_path`."""
    page.goto(f"{base}/console/signin?next={next_path}")
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def played(page: Page, since: int = 0) -> list[dict]:
    """The worklet's output blocks from index `since`: {at: audio-clock seconds, samples}."""
    return page.evaluate(
        "(since) => window.forklineListener.played.slice(since).map("
        "(b) => ({at: b.at, samples: Array.from(b.played)}))", since)


def goertzel(samples: list[float], freq: float, rate: int = RATE) -> float:
    """Power of `freq` in `samples`."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def tone_onset(blocks: list[dict], freq: float, window: int = 160) -> float | None:
    """Audio-clock time of the first `window` samples in which `freq` dominates (None: never).

    Dominates: its power is 20x that of a probe 700 Hz away and the window is not quiet, so
    speech, silence and other tones do not count."""
    samples: list[float] = []
    times: list[float] = []
    for block in blocks:
        for i, x in enumerate(block["samples"]):
            samples.append(x)
            times.append(block["at"] + i / RATE)
    for start in range(0, len(samples) - window + 1, window // 4):
        chunk = samples[start:start + window]
        if max(abs(x) for x in chunk) < 0.05:
            continue
        if goertzel(chunk, freq) > 20 * goertzel(chunk, freq + 700):
            return times[start]
    return None
