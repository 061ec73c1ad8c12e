"""Browser microphone -> agent's phone, whisper mode: latency per tone burst, and worker CPU.

    .venv/bin/python -m bench.console_mic_latency --seconds 20 --pages 2

One Procfile gunicorn server, the strict simulator as Twilio, a customer and an agent on
simulated phones (the agent's phone records). Chromium's fake microphone plays a WAV of 1.4 kHz
bursts (200 ms every second, looped); the page joins as the browser leg and whispers to the
agent. Start: the Unix time (performance.timeOrigin + now()) the page sent the 20 ms frame in
which a burst begins (`Supervisor.log`: the frame leaving the page). End: the burst's first
frame in the agent's recording, at the simulator's `recording_started_at` + 20 ms per frame.
Both ends are found per 20 ms frame (Goertzel level at 1.4 kHz), so each value is +-20 ms.
CPU: the gunicorn worker's user+sys over --cpu-seconds with --pages pages whispering, minus the
same window before any page joined, per page, in % of one core. Not pinned; the box is shared.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from bench._console_bench import EMAIL, PASSWORD, TENANT, arguments, console_stack, start_console
from bench._procstat import cpu_seconds, gunicorn_workers
from bench._report import latency_summary
from twilio_sim.audio import wav_from_ulaw
from twilio_sim.testing import wait_for

PHONES = {"customer": "+15550501001", "agent": "+15550501002"}
FREQ = 1400.0
ON = -30.0  # dBFS at FREQ: a burst is sounding in this frame
BURST_S, PERIOD_S = 0.2, 1.0


def bursts_wav(path: Path, seconds: float) -> Path:
    """A WAV of FREQ bursts at -6 dBFS (BURST_S on, every PERIOD_S), silence between."""
    from support.tones import write_tone_wav

    return write_tone_wav(path, FREQ, seconds, bursts=(BURST_S, PERIOD_S))


def onsets(levels: list[float]) -> list[int]:
    """Frames where a burst begins: loud at FREQ after at least 5 quiet frames."""
    out, quiet = [], 0  # a burst already sounding at frame 0 has no onset here
    for i, level in enumerate(levels):
        if level > ON and quiet >= 5:
            out.append(i)
        quiet = 0 if level > ON else quiet + 1
    return out


def _page(browser, base: str, name: str, email: str = EMAIL):
    from support.browser import sign_in

    context = browser.new_context(permissions=["microphone"])
    page = context.new_page()
    sign_in(page, base, TENANT, email, "/console/", PASSWORD)
    page.get_by_role("heading", name="Live conferences").wait_for(timeout=60_000)
    page.goto(f"{base}/console/conferences/{name}")  # waits for its modules: buttons work
    page.get_by_role("button", name="Listen, microphone muted (M)").click()
    try:
        page.locator("#mic-indicator").filter(has_text="muted, listening").wait_for(timeout=60_000)
    except Exception:
        print("page:", page.locator("#mic-indicator").text_content(),
              page.locator("#mic-message").text_content(), file=sys.stderr)
        raise
    page.evaluate("() => { window.forklineSupervisor.log = []; }")
    page.keyboard.press("w")
    page.locator("#mic-indicator").filter(has_text="whispering").wait_for(timeout=60_000)
    return page


def latency(live, page, seconds: float) -> dict:
    """Each burst the page sent -> its onset at the agent's phone, over `seconds`."""
    from support.tones import tone_levels

    page.evaluate("() => { window.forklineSupervisor.log = []; }")
    live.sim.record(PHONES["agent"], "start")
    time.sleep(seconds)
    sent = page.evaluate("() => window.forklineSupervisor.log.map("
                         "(f) => ({at: f.at, bytes: Array.from(new Uint8Array(f.buffer))}))")
    time.sleep(1.0)  # the last bursts reach the phone
    agent = next(p for p in live.sim.phones() if p["number"] == PHONES["agent"])
    heard = tone_levels(live.sim.recording_wav(PHONES["agent"]), FREQ)
    sent_levels = tone_levels(wav_from_ulaw(b"".join(bytes(f["bytes"]) for f in sent)), FREQ)
    heard_at = [agent["recording_started_at"] * 1000 + 20 * i for i in onsets(heard)]
    values, missed = [], 0
    for i in onsets(sent_levels):
        start = sent[i]["at"]
        after = [t for t in heard_at if t > start - 40 and t < start + 1000 * PERIOD_S / 2]
        if after:
            values.append(after[0] - start)
        else:
            missed += 1
    return {"page_to_phone": latency_summary(values) if values else None, "missed": missed,
            "frames_sent": len(sent)}


def cpu_window(live, seconds: float) -> float:
    """The Forkline worker's CPU over `seconds`, in % of one core."""
    workers = gunicorn_workers(live.stack.procs["forkline"].pid)
    before = sum(cpu_seconds(p) for p in workers)
    time.sleep(seconds)
    return 100 * (sum(cpu_seconds(p) for p in workers) - before) / seconds


def _more_users(live, count: int) -> list[str]:
    """Supervisors for the extra pages (one browser leg per user and conference)."""
    emails = [f"bench{i}@{TENANT}.test" for i in range(count)]
    for email in emails:
        live.stack.flask("users", "create", "--tenant", TENANT, "--email", email,
                         "--role", "supervisor", stdin=PASSWORD + "\n")
    return emails


def _conference(live, name: str) -> None:
    live.api.call("POST", "/api/conferences", {"name": name, "participants": [
        {"to": PHONES[label], "role": label, "label": label} for label in PHONES]})
    wait_for(lambda: all(p.get("status") == "joined" for p in
                         live.api.get(f"/api/conferences/{name}")["participants"]), 60, 0.1)


def run(live, tmp: Path, args) -> dict:
    """Conference; CPU with no page; one page's latency; CPU with --pages pages whispering."""
    from support.browser import chromium, fake_microphone

    wav = bursts_wav(tmp / "bursts.wav", 10.0)
    name = "bench-mic"
    _conference(live, name)
    with chromium(*fake_microphone(wav)) as browser:
        idle = cpu_window(live, args.cpu_seconds)  # the conference, no browser leg yet
        pages = [_page(browser, live.servers["forkline"], name)]
        timing = latency(live, pages[0], args.seconds)  # one page: its bursts only
        pages += [_page(browser, live.servers["forkline"], name, email)
                  for email in _more_users(live, args.pages - 1)]
        time.sleep(1.0)
        busy = cpu_window(live, args.cpu_seconds)
    return {"latency": timing, "cpu": {
        "pages": args.pages, "idle_pct": round(idle, 2), "whispering_pct": round(busy, 2),
        "pct_per_page": round((busy - idle) / args.pages, 3)}}


def main(argv: list[str] | None = None) -> None:
    """Run both measurements and print one JSON report."""
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--cpu-seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    with console_stack(args.database_url) as stack:
        load = [round(x, 2) for x in os.getloadavg()]
        try:
            live = start_console(stack, ("forkline",), PASSWORD)
            report = {"bench": "console_mic_latency", "machine": "shared 2-core box",
                      "load_before": load, **run(live, stack.workdir, args),
                      "load_after": [round(x, 2) for x in os.getloadavg()]}
        except Exception:
            print(stack.log_tail("forkline", 40), stack.log_tail("twilio_sim", 20), file=sys.stderr)
            raise
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
