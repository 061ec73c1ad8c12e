"""End-to-end load on the simulator process: N conferences of talking phones, each leg forked.

    python bench/sim_conferences.py [--conferences 5 10 20] [--legs 3] [--seconds 10] [--rate 1]

For each size, starts `python -m twilio_sim` (real SDK to create the participants, real
Streams forks to a local WebSocket sink), lets it run, and prints: the simulator's tick-loop
health from /sim/stats (late ticks, skipped ticks, worst lag), media messages the sink got per
second versus the ideal (50 per fork per second), and the simulator's CPU share and RSS.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from websockets.sync.server import serve  # noqa: E402

from bench._procstat import cpu_seconds, rss_bytes  # noqa: E402
from twilio_sim import testing  # noqa: E402

ACCOUNT, TOKEN = "AC" + "b" * 32, "bench-token"


class Sink:
    """A WebSocket server that counts media messages."""

    def __init__(self):
        self.media = 0
        self.lock = threading.Lock()
        self.server = serve(self._handler, "127.0.0.1", 0, compression=None)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self, ws):
        try:
            for text in ws:
                if '"media"' in text[:20]:
                    with self.lock:
                        self.media += 1
        except Exception:  # noqa: BLE001 - the simulator closes sockets at teardown
            pass


def run(conferences: int, legs: int, seconds: float, rate: float, sink: Sink) -> dict:
    """One load level; returns the measured numbers."""
    base, proc = testing.start_sim_subprocess(ACCOUNT, TOKEN, clock_rate=rate, allow_ws=True)
    try:
        client, ctl = testing.sdk_client(base, ACCOUNT, TOKEN), testing.SimControl(base)
        calls = []
        for c in range(conferences):
            for leg in range(legs):
                number = f"+1555{c:04d}{leg:03d}"
                ctl.tone(number, 300 + 50 * leg, 60_000, -20.0)
                part = client.conferences(f"bench-{c}").participants.create(
                    from_="+15550000000", to=number)
                calls.append(part.call_sid)
        testing.wait_for(lambda: all(c["status"] == "in-progress" for c in ctl.calls()), 60,
                 message="all answered")
        for sid in calls:
            client.calls(sid).streams.create(url=f"ws://127.0.0.1:{sink.port}/fork",
                                             track="both_tracks")
        time.sleep(1.0)  # let every fork connect before measuring (a bench, not a test)
        before = ctl.stats(reset=True)
        media0, cpu0, t0 = sink.media, cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        after = ctl.stats()
        return {"conferences": conferences, "legs": conferences * legs,
                "media_per_s": (sink.media - media0) / elapsed,
                "ideal_media_per_s": conferences * legs * 2 * 50 * rate,
                "ticks_per_s": (after["ticks"] - before["ticks"]) / elapsed,
                "late_ticks": after["late_ticks"] - before["late_ticks"],
                "skipped_ticks": after["skipped_ticks"] - before["skipped_ticks"],
                "max_lag_ms": after["max_lag_s"] * 1000,
                "cpu_pct": (cpu_seconds(proc.pid) - cpu0) / elapsed * 100,
                "rss_mb": rss_bytes(proc.pid) / 2**20}
    finally:
        testing.stop_sim(proc)


def main() -> None:
    """Parse arguments, run each level, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conferences", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--legs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1.0)
    args = parser.parse_args()
    sink = Sink()
    print("confs legs  media/s (ideal)  ticks/s  late skipped max_lag_ms  cpu%   rss_MB")
    for n in args.conferences:
        r = run(n, args.legs, args.seconds, args.rate, sink)
        print(f"{r['conferences']:5d} {r['legs']:4d} {r['media_per_s']:8.0f} "
              f"({r['ideal_media_per_s']:6.0f}) {r['ticks_per_s']:7.1f} {r['late_ticks']:5d} "
              f"{r['skipped_ticks']:7d} {r['max_lag_ms']:10.1f} {r['cpu_pct']:5.0f} "
              f"{r['rss_mb']:7.1f}", flush=True)


if __name__ == "__main__":
    main()
