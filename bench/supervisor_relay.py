"""Browser supervisor across workers: latency of each direction through the Redis relay, as a
ratio to a bare Redis PUBLISH -> subscriber hop measured in the same run.

    .venv/bin/python -m bench.supervisor_relay --seconds 5 [--redis redis://127.0.0.1:6379/9]

One process holds two media planes (two apps: the page's worker and the stream's worker, plain
threads, not gevent) sharing a Redis. Every 20 ms a 160-byte frame stamped with
perf_counter_ns goes in at one end: the microphone at the page's MicRelay, the conference audio
at the stream's tap. The arrival times at the other end's queue (the stream's MicRelay, the
page's MicRelay) are reported as p50/p95 ms, and divided by the bare hop's p50.
"""
from __future__ import annotations

import argparse
import json
import statistics
import struct
import tempfile
import threading
import time

import redis

FRAME_S = 0.02


def _stamped() -> bytes:
    return struct.pack("<q", time.perf_counter_ns()).ljust(160, b"\xff")


def _age_ms(frame: bytes) -> float:
    return (time.perf_counter_ns() - struct.unpack("<q", frame[:8])[0]) / 1e6


def _plane(tmp: str, name: str, url: str):
    from app import create_app
    from conference.media.registry import get_plane

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp}/{name}.sqlite",
                      "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING", "AI_BACKEND": "echo",
                      "REDIS_URL": url, "RECORDINGS_DIR": tmp})
    return get_plane(app)


def _relay_class():
    from conference.media.supervise import MicRelay

    class Timed(MicRelay):
        """A MicRelay that notes each frame's age as it arrives."""

        def __init__(self) -> None:
            super().__init__()
            self.ages: list[float] = []

        def from_twilio(self, ulaw: bytes) -> None:
            self.ages.append(_age_ms(ulaw))
            super().from_twilio(ulaw)

        def from_browser(self, frame: bytes) -> bool:
            if self.mic_sink is None:
                self.ages.append(_age_ms(frame))
            return super().from_browser(frame)
    return Timed


def _bare_hop(url: str, frames: int) -> list[float]:
    client, ages, done = redis.Redis.from_url(url), [], threading.Event()
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("bench:bare")

    def read() -> None:
        while len(ages) < frames:
            message = pubsub.get_message(timeout=1.0)
            if message is not None:
                ages.append(_age_ms(message["data"]))
        done.set()
    threading.Thread(target=read, daemon=True).start()
    for _ in range(frames):
        client.publish("bench:bare", _stamped())
        time.sleep(FRAME_S)
    done.wait(5)
    pubsub.close()
    return ages


def run(seconds: float, url: str) -> dict:
    from conference.media.supervise_remote import BrowserEnd, TwilioEnd, supervisor_key

    frames, timed = int(seconds / FRAME_S), _relay_class()
    with tempfile.TemporaryDirectory() as tmp:
        page, stream = _plane(tmp, "page", url), _plane(tmp, "stream", url)
        stream.ensure_maintenance()
        key = supervisor_key(1, f"bench-{time.time_ns()}", "console-1")
        browser = timed()
        end = BrowserEnd(page, browser, key).start()
        twilio = TwilioEnd(stream, key, "CA" + "0" * 32)
        twilio.relay = timed()
        twilio.start()
        deadline = time.monotonic() + 10
        while not browser.twilio_attached and time.monotonic() < deadline:
            time.sleep(0.01)  # the bus's `connected` has no event to wait on from here
        time.sleep(0.5)  # both relays' sync loops (every 0.2 s) attach their feeds
        for _ in range(frames):
            browser.from_browser(_stamped())
            twilio.from_twilio(_stamped())
            twilio.relay.to_twilio.clear()  # nobody paces them out here; keep the queue empty
            time.sleep(FRAME_S)
        time.sleep(0.5)
        twilio.stop()
        end.stop()
        bare = _bare_hop(url, frames)
    base = statistics.median(bare)

    def summary(ages: list[float]) -> dict:
        ages = sorted(ages)
        p50, p95 = statistics.median(ages), ages[int(len(ages) * 0.95) - 1]
        return {"frames": len(ages), "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
                "p50_vs_bare": round(p50 / base, 1)}
    return {"sent": frames, "bare_hop": summary(bare),
            "mic_page_to_stream": summary(twilio.relay.ages),
            "audio_stream_to_page": summary(browser.ages)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.redis), indent=2))


if __name__ == "__main__":
    main()
