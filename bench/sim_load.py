"""Load a Media Streams endpoint with N simulated Twilio calls (the simulator's real client).

    python bench/sim_load.py --url ws://127.0.0.1:5000/twilio/ai-stream --calls 50 \
        --seconds 10 --auth-token X [--bidirectional] [--tracks both_tracks] [--json]

Each call is a `twilio_sim.media_client.MediaStreamClient`: a signed upgrade, `connected`,
`start`, then one 160-byte μ-law frame per track every 20 ms from a single drift-free ticker
(as the simulator's conference tick does), and `stop`. Inbound audio loops the speech
fixtures with a second of silence between phrases. Prints frames sent, app messages
received, late ticks, mark wait p50/p99 (bidirectional: app mark -> echo, i.e. how long
Twilio held it while the audio queued before it played), first-response latency (stream
start -> first app media), and this process's CPU and peak RSS.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twilio_sim.audio import SILENCE, read_wav_ulaw, split_frames, tone_ulaw  # noqa: E402
from twilio_sim.clock import RealClock, Ticker  # noqa: E402
from twilio_sim.fixtures import PHRASES, fixture_path  # noqa: E402
from twilio_sim.media_client import MediaStreamClient, StreamConnectError  # noqa: E402

ACCOUNT_SID = "AC" + "0" * 31 + "1"


def source_frames(kind: str) -> list[bytes]:
    """The inbound audio each call loops: speech fixtures, a tone or silence."""
    if kind == "tone":
        return split_frames(tone_ulaw(1000, 1000, -12.0))
    if kind == "silence":
        return [SILENCE]
    frames: list[bytes] = []
    for name in sorted(PHRASES):
        frames += split_frames(read_wav_ulaw(str(fixture_path(name)))) + [SILENCE] * 50
    return frames


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, or None without data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def make_clients(args, clock) -> list[MediaStreamClient]:
    params = dict(p.split("=", 1) for p in args.param)
    return [MediaStreamClient(
        args.url, auth_token=args.auth_token, account_sid=args.account_sid,
        call_sid=f"CA{n:032x}", tracks="inbound_track" if args.bidirectional else args.tracks,
        custom_parameters={**params, "bench_call": str(n)}, bidirectional=args.bidirectional,
        clock=clock, open_timeout=args.open_timeout) for n in range(args.calls)]


def connect_all(clients, concurrency: int) -> tuple[list[MediaStreamClient], dict[int, int]]:
    """Connect in parallel; returns the connected clients and failures by Twilio code."""
    failures: dict[int, int] = {}

    def one(client):
        try:
            client.connect()
            return client
        except StreamConnectError as exc:
            failures[exc.code] = failures.get(exc.code, 0) + 1
            return None

    done = Pool(concurrency).map(one, clients)
    return [c for c in done if c is not None], failures


def run(args) -> dict:
    clock = RealClock()
    frames = source_frames(args.audio)
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    clients, failures = connect_all(make_clients(args, clock), args.concurrency)
    connect_s = time.monotonic() - wall0
    ticker = Ticker(clock)
    ticks = int(args.seconds * 50)
    app_frames = 0
    for _ in range(ticks):
        tick = ticker.wait_next()
        for n, client in enumerate(clients):
            voice = frames[(tick + n * 7) % len(frames)]  # calls are out of phase
            client.send_tick(voice, voice)
            if args.bidirectional and client.playout_frame() != SILENCE:
                app_frames += 1
        gevent.sleep(0)  # let senders and receivers run even when ticks are late
    run_s = time.monotonic() - wall0 - connect_s
    closed_by_app = sum(c.closed_by_app for c in clients)
    Pool(args.concurrency).map(lambda c: c.stop(timeout=args.open_timeout), clients)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    waits = [w for c in clients for w in c.session.mark_waits]
    firsts = [c.session.first_media_at - ticker.start for c in clients
              if c.session.first_media_at is not None]
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "url": args.url, "calls": args.calls, "connected": len(clients), "failures": failures,
        "seconds": args.seconds, "bidirectional": args.bidirectional,
        "connect_s": round(connect_s, 2),
        "ticks": ticks, "late_ticks": ticker.late_ticks, "skipped_ticks": ticker.skipped_ticks,
        "max_tick_lag_ms": ms(ticker.max_lag),
        "frames_sent": sum(c.frames_sent for c in clients),
        "frames_expected": len(clients) * ticks,
        "app_messages": sum(c.app_messages for c in clients),
        "app_media": sum(c.session.received_media for c in clients),
        "app_frames_played": app_frames, "marks_echoed": sum(c.marks_echoed for c in clients),
        "dropped_app_messages": sum(c.session.dropped for c in clients),
        "closed_by_app": closed_by_app,
        "mark_wait_ms_p50": ms(percentile(waits, 50)),
        "mark_wait_ms_p99": ms(percentile(waits, 99)),
        "first_response_ms_p50": ms(percentile(firsts, 50)),
        "first_response_ms_p99": ms(percentile(firsts, 99)),
        "cpu_s": round(cpu_s, 2), "cpu_pct_of_one_core": round(100 * cpu_s / max(run_s, 1e-9), 1),
        "peak_rss_mb": round(cpu1.ru_maxrss / 1024, 1),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="ws:// or wss:// Media Streams endpoint")
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--auth-token", required=True, help="signs X-Twilio-Signature")
    p.add_argument("--account-sid", default=ACCOUNT_SID)
    p.add_argument("--bidirectional", action="store_true", help="<Connect><Stream> semantics")
    p.add_argument("--tracks", default="inbound_track",
                   choices=["inbound_track", "outbound_track", "both_tracks"])
    p.add_argument("--audio", default="speech", choices=["speech", "tone", "silence"])
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="custom parameter sent in start.customParameters (repeatable)")
    p.add_argument("--concurrency", type=int, default=20, help="parallel connects/stops")
    p.add_argument("--open-timeout", type=float, default=10.0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--verbose", action="store_true", help="show the client's warnings")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Dropped-message warnings are sampled per stream; with many streams they still add up.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    report = run(args)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>24}: {value}")
    return 0 if report["connected"] == args.calls else 1


if __name__ == "__main__":
    sys.exit(main())
