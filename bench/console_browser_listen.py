"""Browser live-listen, end to end: simulator frame -> page output, and CPU per listener.

    .venv/bin/python -m bench.console_browser_listen --tones 10 --listeners 5 --seconds 8

Two Procfile gunicorn servers share a private PostgreSQL database and Redis; the strict
simulator (Twilio) talks only to A, so the customer's fork lives on A. Latency: one Chromium
page listens on A (local tap) and one on B (through the Redis relay), at the same time, to the
customer's leg; the phone plays short 1 kHz tones. Per tone: the simulator's stamp of the tick
that said its first frame (`play_started_at`) -> the tone's onset in each page's AudioWorklet
output (audio-clock time mapped to Unix time by `getOutputTimestamp()`, so it includes the
jitter buffer and the reported output latency). CPU: the gunicorn workers' user+sys over
`--seconds` with N plain WebSocket listeners (a child process) on A (local) or on B (relayed),
minus the same window with none, per listener, in % of one core. Not pinned (taskset): it
measures cost, not capacity; the machine is shared, so compare the ratios of one run.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
import time

import requests

from bench._console_bench import EMAIL, PASSWORD, TENANT, arguments, console_stack, start_console
from bench._procstat import cpu_seconds, gunicorn_workers
from bench._report import latency_summary
from twilio_sim.testing import wait_for

PHONES = {"customer": "+15550401001", "agent": "+15550401002"}
TONE_HZ = 1000.0
SEARCH_BLOCKS = 190  # 3 s of 128-sample worklet blocks after the mark: the tone is in there


def _page(browser, base: str, name: str):
    from support.browser import sign_in

    page = browser.new_page()
    sign_in(page, base, TENANT, EMAIL, f"/console/conferences/{name}%3Fcapture%3D1", PASSWORD)
    page.get_by_label("Listen to").select_option("customer")
    page.get_by_role("button", name="Listen (L)").click()
    page.wait_for_function("() => window.forklineListener && "
                           "window.forklineListener.played.length > 50", timeout=60_000)
    return page


def _onset_unix_ms(page, since: tuple[int, int]) -> tuple[float, float] | None:
    """Unix ms of the tone's onset (arrival at the page's socket, out of its worklet)."""
    from support.browser import played, tone_onset

    onset = tone_onset(played(page, since[0])[:SEARCH_BLOCKS], TONE_HZ)
    # Onset by sample position over the chunks as they arrived; its chunk's arrival time.
    chunks = page.evaluate("(since) => window.forklineListener.arrived.slice(since, since + 150)"
                           ".map((b) => ({at: b.at, samples: Array.from(b.samples)}))", since[1])
    stream, owner = [], []
    for chunk in chunks:
        stream += chunk["samples"]
        owner += [chunk["at"]] * len(chunk["samples"])
    position = tone_onset([{"at": 0.0, "samples": stream}], TONE_HZ)
    at_socket = None if position is None else owner[round(position * 8000)] / 1000
    if onset is None or at_socket is None:
        return None
    clock = page.evaluate("() => window.forklineListener.clock()")
    return at_socket * 1000, clock["epochMs"] + (onset - clock["contextTime"]) * 1000


def latency(live, name: str, tones: int) -> dict:
    """Per-tone simulator frame -> page output, local (A) and relayed (B), in one run."""
    from support.browser import chromium

    out: dict[str, list[float]] = {f"{kind}_{stage}": [] for kind in ("local", "redis")
                                   for stage in ("socket", "output")}
    missed = {"local": 0, "redis": 0}
    with chromium() as browser:
        pages = {"local": _page(browser, live.servers["forkline"], name),
                 "redis": _page(browser, live.servers["forkline-b"], name)}
        for _ in range(tones):
            since = {k: tuple(p.evaluate("() => [window.forklineListener.played.length, "
                                         "window.forklineListener.arrived.length]"))
                     for k, p in pages.items()}
            started = _play(live)
            for kind, page in pages.items():
                try:
                    at_socket, at_output = wait_for(
                        lambda page=page, mark=since[kind]: _onset_unix_ms(page, mark), 15, 0.25)
                except AssertionError:  # not found in 15 s: counted, never silently dropped
                    missed[kind] += 1
                    continue
                out[f"{kind}_socket"].append(at_socket - started * 1000)
                out[f"{kind}_output"].append(at_output - started * 1000)
            wait_for(lambda: not _phone(live)["speaking"], 10, 0.02)
            time.sleep(0.4)  # the tone's tail leaves both jitter buffers before the next one
        buffers = {kind: _buffer(page) for kind, page in pages.items()}
    return {**{kind: latency_summary(values) for kind, values in out.items() if values},
            "missed": missed, "jitter_buffer": buffers}


def _buffer(page) -> dict:
    """The worklet's jitter-buffer counters at the end, and its depth (ms) over the session."""
    return page.evaluate("""() => {
      const blocks = window.forklineListener.played, last = blocks[blocks.length - 1];
      const depths = blocks.map((b) => b.depth).filter((d) => d !== undefined)
        .sort((a, b) => a - b);
      const at = (q) => depths.length ? depths[Math.floor(q * (depths.length - 1))] / 8 : null;
      const { played, at: _, ...counters } = last;
      return { ...counters, depth_p50_ms: at(0.5), depth_p95_ms: at(0.95), blocks: blocks.length };
    }""")


def _play(live) -> float:
    """Play a 300 ms tone on the customer's phone; the simulator's stamp of its first frame."""
    before = _phone(live)["play_started_at"] or 0
    live.sim.tone(PHONES["customer"], TONE_HZ, 300, dbfs=-12.0)
    return wait_for(lambda: (_phone(live)["play_started_at"] or 0) > before
                    and _phone(live)["play_started_at"], 10, 0.01)


def _phone(live) -> dict:
    return next(p for p in live.sim.phones() if p["number"] == PHONES["customer"])


def _listen(url: str, cookie: str, count: int, seconds: float, out) -> None:
    from simple_websocket import Client

    sockets = [Client.connect(url, headers={"Cookie": cookie, "Origin": "http://127.0.0.1"})
               for _ in range(count)]
    out.put("ready")
    chunks, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for ws in sockets:
            while ws.receive(timeout=0):
                chunks += 1
        time.sleep(0.02)
    for ws in sockets:
        ws.close()
    out.put(chunks)


def _cookie(base: str) -> str:
    from support.console import csrf_token

    http = requests.Session()
    token = csrf_token(http.get(f"{base}/console/signin", timeout=10).text)
    http.post(f"{base}/console/signin", timeout=10, data={
        "tenant": TENANT, "email": EMAIL, "password": PASSWORD, "csrf_token": token})
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def cpu(live, name: str, count: int, seconds: float) -> dict:
    """Worker CPU (% of a core) idle, with `count` local and with `count` relayed listeners."""
    workers = {server: gunicorn_workers(live.stack.procs[server].pid)
               for server in ("forkline", "forkline-b")}

    def window(server: str | None) -> dict:
        queue = multiprocessing.Queue()
        child = None
        if server is not None:
            base = live.servers[server]
            url = base.replace("http", "ws", 1) + f"/console/listen/{name}?leg=customer"
            child = multiprocessing.Process(target=_listen, args=(
                url, _cookie(base), count, seconds + 2, queue))
            child.start()
            assert queue.get(timeout=60) == "ready"
            time.sleep(1.0)  # the relay attaches within SYNC_S; count whole seconds after
        before = {s: sum(cpu_seconds(p) for p in pids) for s, pids in workers.items()}
        time.sleep(seconds)
        used = {s: sum(cpu_seconds(p) for p in pids) - before[s] for s, pids in workers.items()}
        step = {s: round(100 * v / seconds, 2) for s, v in used.items()}
        if child is not None:
            step["chunks"] = queue.get(timeout=60)
            child.join(30)
        return step

    idle = window(None)
    local, relayed = window("forkline"), window("forkline-b")
    per = {"local_A": (local["forkline"] - idle["forkline"]) / count,
           "redis_A": (relayed["forkline"] - idle["forkline"]) / count,
           "redis_B": (relayed["forkline-b"] - idle["forkline-b"]) / count}
    return {"listeners": count, "idle_pct": idle, "local_pct": local, "redis_pct": relayed,
            "pct_per_listener": {k: round(v, 3) for k, v in per.items()}}


def main(argv: list[str] | None = None) -> None:
    """Run both measurements and print one JSON report."""
    parser = arguments(__doc__)
    parser.add_argument("--tones", type=int, default=10)
    parser.add_argument("--listeners", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    with console_stack(args.database_url) as stack:
        live = start_console(stack, ("forkline", "forkline-b"), PASSWORD)
        name = "bench-listen"
        live.api.call("POST", "/api/conferences", {"name": name, "participants": [
            {"to": PHONES[label], "role": label, "label": label} for label in PHONES]})
        wait_for(lambda: any(s["kind"] == "fork" and s["status"] == "started"
                             for s in live.api.get(f"/api/conferences/{name}")["streams"]),
                 60, 0.1)
        report = {"bench": "console_browser_listen", "machine": "shared 2-core box",
                  "latency": latency(live, name, args.tones),
                  "cpu": cpu(live, name, args.listeners, args.seconds)}
        lat = report["latency"]
        report["redis_over_local_p50"] = {stage: round(
            lat[f"redis_{stage}"]["p50_ms"] / lat[f"local_{stage}"]["p50_ms"], 2)
            for stage in ("socket", "output")}
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
