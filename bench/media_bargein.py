"""Barge-in latency and truncation accuracy, measured at the simulated caller's ear.

Runs the product under the Procfile's gunicorn -k gevent with the echo agent. Each trial: the AI
leg hears 2 s of tone at once (so the echo agent talks 2 s, faster than real time), then a human
fork starts speaking; the AI leg's played-out audio shows when the AI went silent, and the
barge-in event shows the truncation reported to the backend.

  .venv/bin/python -m bench.media_bargein [--trials 10]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from agents.audio import voiced_frame
from bench._loadgen import call_sid
from bench._targets import ACCOUNT_SID, AUTH_TOKEN, SECRET, Forkline
from conference.twilio.security import make_stream_token
from twilio_sim.media_client import MediaStreamClient

SILENCE = b"\xff" * 160
VOICE_START, VAD_FRAMES = 30, 3  # the fork starts talking at tick 30; VAD decides on the 3rd


def tone(i: int) -> bytes:
    return bytes([i % 250, 5]) * 80


def trial(target: Forkline, index: int, engine: sa.Engine) -> tuple[float, float]:
    """(ms from the VAD's decision to silence at the caller, |reported - heard| ms)."""
    ai_params = target.params(index)
    conf, tenant = ai_params["conference"], ai_params["tenant"]
    fork_call = f"CB{index:032d}"
    claims = {"conference": conf, "tenant": int(tenant), "kind": "fork", "label": "alice",
              "call": fork_call}
    fork_params = {"conference": conf, "tenant": tenant, "label": "alice", "role": "customer",
                   "token": make_stream_token(SECRET, claims)}
    call = call_sid(index)  # the call target.params(index) bound the AI token to
    base = f"ws://127.0.0.1:{target.port}/twilio"
    ai = MediaStreamClient(f"{base}/ai-stream", auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                           call_sid=call, custom_parameters=ai_params, bidirectional=True)
    fork = MediaStreamClient(f"{base}/fork", auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                             call_sid=fork_call, custom_parameters=fork_params)
    ai.connect()
    fork.connect()
    for i in range(100):
        ai.send_tick(inbound=tone(i))
    tones = {tone(i) for i in range(100)}
    played, t0 = [], time.monotonic()
    for tick in range(90):
        time.sleep(max(0.0, t0 + tick * 0.02 - time.monotonic()))
        fork.send_tick(inbound=voiced_frame(tick) if tick >= VOICE_START else SILENCE)
        ai.send_tick(inbound=SILENCE)
        played.append(ai.playout_frame())
    ai.stop()
    fork.stop()
    heard_ticks = [t for t, frame in enumerate(played) if frame in tones]
    reaction = (heard_ticks[-1] + 1 - (VOICE_START + VAD_FRAMES - 1)) * 20.0
    payload = None
    for _ in range(100):
        with engine.connect() as db:
            payload = db.execute(sa.text(
                "SELECT payload FROM conference_event WHERE event='barge-in' AND call_sid=:c"),
                {"c": call}).scalar()
        if payload:
            break
        time.sleep(0.05)
    reported = (json.loads(payload) if isinstance(payload, str) else payload)["heard_ms"]
    return reaction, abs(reported - len(heard_ticks) * 20.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        target = Forkline(Path(tmp))
        target.start()
        try:
            engine = sa.create_engine(f"sqlite:///{Path(tmp) / 'forkline.sqlite'}")
            results = [trial(target, i + 1, engine) for i in range(args.trials)]
        finally:
            target.stop()
    reactions = [r for r, _ in results]
    errors = [e for _, e in results]
    print(f"trials: {len(results)} (gunicorn -k gevent, 1 worker, echo agent)")
    print(f"barge-in: VAD decision -> AI silent at the caller: p50"
          f" {statistics.median(reactions):.0f} ms, max {max(reactions):.0f} ms"
          " (limit 100 ms; 20 ms playout granularity)")
    print(f"truncation reported vs heard at the caller: p50 {statistics.median(errors):.0f} ms,"
          f" max {max(errors):.0f} ms (limit 40 ms)")


if __name__ == "__main__":
    main()
