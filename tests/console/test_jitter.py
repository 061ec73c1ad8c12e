"""The listen worklet's jitter buffer (console/static/jitter.js), run in real Chromium.

A scenario is a list of (arrival ms, frames) pushes on a simulated clock; the page pulls one
128-sample render block every 16 ms of that clock, as the 8 kHz AudioWorklet does. Each pushed
frame carries the next 160 samples of one ramp (sample n is n / 1e6), so the output shows
what was played, cut or skipped."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from support.browser import chromium

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

STATIC = Path(__file__).resolve().parents[2] / "console" / "static"
ORIGIN = "http://forkline.test"
TARGET, MARGIN, CAP, FRAME, BLOCK = 640, 320, 1600, 160, 128

HARNESS = """async ({ pushes, seconds }) => {
  const { JitterBuffer } = await import("/static/jitter.js");
  const buffer = new JitterBuffer();
  const out = new Float32Array(128), played = [], blocks = [];
  let next = 0, sent = 0;
  for (let t = 0; t < seconds * 1000; t += 16) {
    while (next < pushes.length && pushes[next][0] <= t) {
      const chunk = new Float32Array(160 * pushes[next++][1]);
      for (let i = 0; i < chunk.length; i++) chunk[i] = (sent++) / 1e6;  // the ramp
      buffer.push(chunk);
    }
    const before = buffer.depth;
    buffer.pull(out);
    blocks.push({ t, before, depth: buffer.depth, playing: buffer.playing });
    played.push(...out);
  }
  return { played, blocks, stats: buffer.stats };
}"""


@pytest.fixture(scope="module")
def page():
    """A blank page on a made-up origin that serves console/static/ (no server needed)."""
    with chromium() as browser:
        page = browser.new_page()

        def serve(route):
            path = route.request.url.removeprefix(ORIGIN)
            if path.startswith("/static/"):
                route.fulfill(path=str(STATIC / path.removeprefix("/static/")),
                              content_type="text/javascript")
            else:
                route.fulfill(body="<!doctype html><title>jitter</title>", content_type="text/html")

        page.route(f"{ORIGIN}/**", serve)
        page.goto(ORIGIN + "/")
        yield page


def run(page, pushes, seconds: float) -> dict:
    return page.evaluate(HARNESS, {"pushes": pushes, "seconds": seconds})


def steady(start_ms: float, seconds: float, jitter_ms: float = 0.0, seed: int = 1) -> list:
    """One frame per 20 ms from `start_ms`, each late by up to `jitter_ms`, delivered in order."""
    rng, at, out = random.Random(seed), 0.0, []
    for n in range(int(seconds * 50)):
        at = max(at, start_ms + 20 * n + rng.uniform(0, jitter_ms))
        out.append([at, 1])
    return out


def playing_blocks(result: dict, after_ms: float) -> list[dict]:
    return [b for b in result["blocks"] if b["t"] >= after_ms]


def test_steady_arrivals_play_without_underrun_or_drops(page):
    result = run(page, steady(0, 6, jitter_ms=3), 6)
    assert result["stats"]["underruns"] == 0
    assert result["stats"]["dropped"] == 0
    late = playing_blocks(result, 500)
    assert all(b["playing"] for b in late)
    assert all(TARGET - 2 * BLOCK <= b["before"] <= TARGET + MARGIN for b in late)


def test_jittery_arrivals_up_to_60_ms_late_never_underrun(page):
    result = run(page, steady(0, 8, jitter_ms=60, seed=7), 8)
    assert result["stats"]["underruns"] == 0
    assert all(b["playing"] for b in playing_blocks(result, 500))


def test_a_startup_burst_is_trimmed_back_to_the_target_band(page):
    # 180 ms arrive at once (a backlog, the relay's first drain), then frames come steadily.
    pushes = [[0, 9]] + steady(20, 6)
    result = run(page, pushes, 6)
    stats = result["stats"]
    assert stats["underruns"] == 0
    assert stats["trims"] >= 1 and stats["dropped"] >= 3 * FRAME
    assert stats["dropped"] % FRAME == 0  # whole 20 ms frames
    early = playing_blocks(result, 100)[:20]
    assert min(b["before"] for b in early) > TARGET + MARGIN  # deep at first
    late = playing_blocks(result, 3000)
    assert all(TARGET - 2 * BLOCK <= b["before"] <= TARGET + MARGIN for b in late)
    # The cut is crossfaded: on a ramp (+1e-6 a sample) the skipped audio shows as a step;
    # blended over the fade, no step is more than a twentieth of the cut, and none goes back.
    played = result["played"][BLOCK * 10:]
    steps = [b - a for a, b in zip(played, played[1:], strict=False)]
    assert min(steps) >= 0 and max(steps) < stats["dropped"] / 1e6 / 20


def test_periodic_bursts_settle_with_their_low_point_in_the_band(page):
    # The relay's pattern: 3 frames (60 ms) every 60 ms, after a 200 ms stall's backlog.
    pushes = [[0, 10]] + [[60 * k, 3] for k in range(1, 120)]
    result = run(page, pushes, 7)
    assert result["stats"]["underruns"] == 0
    assert result["stats"]["trims"] >= 1
    late = playing_blocks(result, 4000)
    low = min(b["depth"] for b in late)
    assert TARGET - 2 * BLOCK <= low <= TARGET + MARGIN
    assert max(b["depth"] for b in late) <= low + 3 * FRAME + BLOCK


def test_the_cap_drops_the_oldest_audio_and_counts_it(page):
    result = run(page, [[0, 50]], 0.5)  # a full second at once
    stats = result["stats"]
    assert stats["capped"] == 1 and stats["dropped"] == 50 * FRAME - CAP
    assert result["blocks"][0]["before"] == CAP
    first = next(x for x in result["played"] if x)
    assert first == pytest.approx((50 * FRAME - CAP) / 1e6, abs=1e-7)  # the newest 200 ms


def test_an_underrun_plays_silence_then_rebuffers_to_the_target(page):
    # 1 s steady, nothing for 300 ms, then steady again.
    pushes = steady(0, 1) + steady(1300, 2)
    result = run(page, pushes, 3)
    assert result["stats"]["underruns"] == 1
    blocks = result["blocks"]
    stop = next(i for i, b in enumerate(blocks) if b["t"] > 500 and not b["playing"])
    restart = next(i for i in range(stop, len(blocks)) if blocks[i]["playing"])
    assert blocks[restart]["before"] >= TARGET  # waited for the target again
    assert blocks[restart]["t"] >= 1300 + (TARGET // FRAME - 1) * 20
    silent = result["played"][(stop + 1) * BLOCK:restart * BLOCK]
    assert silent and not any(silent)
