"""First AI audio *at the caller*, through the real media plane: speech end -> first AI frame heard.

    python bench/agent_latency_media.py [--backends realtime,pipeline,local] [--turns 10]

Runs the app on gevent in a subprocess (the media tests' server) with AI_BACKEND set, and plays
the Twilio side of the AI leg with the simulator's MediaStreamClient in real-time 20 ms ticks:
an utterance, then silence, recording what the caller hears each tick. Latency is counted in
ticks (20 ms resolution) from the last loud frame sent to the first non-silent frame played.
For `realtime` the fake's own response time is subtracted too: what our whole path adds
(session, bridge, playout lead, both sockets).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIA_TESTS = ROOT / "tests" / "conference" / "media"
sys.path[:0] = [str(ROOT), str(MEDIA_TESTS)]

from agent_latency import last_loud_frame, pct  # noqa: E402
from media_harness import SILENCE, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, ai_client  # noqa: E402

QUIET = frozenset(b"\xff\x7f")


def start_app(tmp: str, **overrides) -> tuple[subprocess.Popen, int]:
    """The app under gevent with test config plus `overrides`; returns (process, port)."""
    sys.modules.setdefault("conftest", type(sys)("conftest"))  # media_harness's sibling import
    config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite",
              "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
              "TWILIO_API_URL": "http://127.0.0.1:9", "TWILIO_TWIML_APP_SID": "AP" + "0" * 32,
              "TWILIO_CALLER_ID": "+15550000000", "SECRET_KEY": "test-secret",
              "LOG_LEVEL": "WARNING", "RECORDINGS_DIR": f"{tmp}/recordings", **overrides}
    env = dict(os.environ, FORKLINE_TEST_CONFIG=json.dumps(config))
    with open(f"{tmp}/server.log", "wb") as log:
        command = [sys.executable, "-W", "ignore", str(MEDIA_TESTS / "media_server.py")]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
    return proc, int(proc.stdout.readline())


class Server:
    """Just enough of the media tests' Server for the harness's ai_client."""

    def __init__(self, port: int) -> None:
        self.port = port

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


def turn(client, utterance: bytes, timeout_ticks: int = 1000) -> int | None:
    """Ticks from the last loud frame sent to the first AI frame heard; waits out the reply."""
    frames = [utterance[i:i + 160] for i in range(0, len(utterance) - 159, 160)]
    end, first, quiet, tick = last_loud_frame(utterance), None, 0, 0
    t0 = time.monotonic()
    while tick < timeout_ticks:
        time.sleep(max(0.0, t0 + tick * 0.02 - time.monotonic()))
        client.send_tick(inbound=frames[tick] if tick < len(frames) else SILENCE)
        heard = client.playout_frame()
        if tick > end and not set(heard) <= QUIET:
            first = tick if first is None else first
            quiet = 0
        elif first is not None:
            quiet += 1
            if quiet >= 25:  # half a second of silence: the reply is over
                break
        tick += 1
    return None if first is None else first - end


def run_backend(backend: str, turns: int) -> dict:
    """Latency samples (ms) at the caller for one backend."""
    from contextlib import ExitStack

    from tests.fakes.openai_http import FakeOpenAI
    from tests.fakes.realtime_server import RealtimeFake, tone_ulaw

    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        overrides: dict = {"AI_BACKEND": backend}
        utterance = tone_ulaw(400)
        fake = None
        if backend == "realtime":
            fake = stack.enter_context(RealtimeFake())
            overrides |= {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.http_base_url}
        else:
            from agents import speech

            utterance = speech.synthesize_ulaw("What are your opening hours?")
            if backend == "pipeline":
                http = FakeOpenAI().start()
                http.speech_pcm = b"\x00\x10" * 4800
                stack.callback(http.stop)
                overrides |= {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": http.url}
        proc, port = start_app(tmp, **overrides)
        stack.callback(proc.wait, 10)
        stack.callback(proc.terminate)
        client = ai_client(Server(port), "CA" + "a" * 32)
        started = time.monotonic()
        client.connect()
        stack.callback(client.stop)
        # Let the backend come up before the first question (a cold start is not a turn).
        ready = (lambda: fake.received("session.update")) if fake else (
            lambda: time.monotonic() - started > 2.0)
        while not ready() and time.monotonic() - started < 20:
            client.send_tick(inbound=SILENCE)
            time.sleep(0.02)
        setup_ms = (time.monotonic() - started) * 1000
        latencies, own = [], []
        for _ in range(turns):
            before = len(fake.turns) if fake else 0
            ticks = turn(client, utterance)
            if ticks is None:
                continue
            latencies.append(ticks * 20.0)
            if fake and len(fake.turns) > before:
                own.append(fake.turns[before]["response_s"] * 1000)
        result = {"at the caller": latencies}
        if fake:
            result["AI socket -> session ready"] = [setup_ms]
        if fake and len(own) == len(latencies):
            result["fake's own response time"] = own
            result["added by our path"] = [a - b for a, b in zip(latencies, own, strict=True)]
        return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="realtime,pipeline,local")
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args(argv)
    print(f"first AI audio at the caller via the media plane, {args.turns} turns, 20 ms ticks")
    print(f"{'backend':<10}{'measure':<30}{'n':>4}{'p50 ms':>10}{'p95 ms':>10}")
    for backend in args.backends.split(","):
        try:
            result = run_backend(backend, args.turns)
        except Exception as exc:  # keep the other backends' numbers
            print(f"{backend:<10}unavailable: {type(exc).__name__}: {exc}")
            continue
        for label, values in result.items():
            p50, p95 = (pct(values, 0.5), pct(values, 0.95)) if values else (0.0, 0.0)
            print(f"{backend:<10}{label:<30}{len(values):>4}{p50:>10.1f}{p95:>10.1f}")


if __name__ == "__main__":
    main()
