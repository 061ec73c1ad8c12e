"""Barge-in latency and truncation accuracy, measured at the simulated caller's ear.

Runs the product under the Procfile's gunicorn -k gevent with the echo agent. Each trial: the AI
leg hears 2 s of tone at once (so the echo agent talks 2 s, faster than real time), then a human
fork starts speaking; the AI leg's played-out audio shows when the AI went silent, and the
barge-in event shows the truncation reported to the backend.

  .venv/bin/python -m bench.media_bargein [--trials 10]
  .venv/bin/python -m bench.media_bargein --backend realtime [--trials 10]

With `--backend realtime` the AI is the Realtime backend on an in-process fake that stamps what
it receives: the bench prints when response.cancel and the truncate reached "OpenAI".
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


def clients(target: Forkline, index: int) -> tuple[MediaStreamClient, MediaStreamClient, str]:
    """(AI leg, human fork, AI call sid) of trial `index`, both connected, in one conference."""
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
                           call_sid=call, custom_parameters=ai_params, bidirectional=True,
                           open_timeout=30.0)  # the first upgrade waits for app start-up
    fork = MediaStreamClient(f"{base}/fork", auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                             call_sid=fork_call, custom_parameters=fork_params)
    ai.connect()
    fork.connect()
    return ai, fork, call


def trial(target: Forkline, index: int, engine: sa.Engine) -> tuple[float, float]:
    """(ms from the VAD's decision to silence at the caller, |reported - heard| ms)."""
    ai, fork, call = clients(target, index)
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


def realtime_main(trials: int, path_ms: float) -> None:
    """Decision -> response.cancel and -> truncate at the Realtime fake (the OpenAI side)."""
    from bench._bargein_cancel import RealtimeForkline, StampedFake
    from bench._bargein_cancel import trial as realtime_trial

    results = []
    with StampedFake() as fake, tempfile.TemporaryDirectory() as tmp:
        target = RealtimeForkline(Path(tmp), fake)
        target.start()
        try:
            for i in range(trials):
                sessions = len(fake.received("session.update"))
                ai, fork, _ = clients(target, i + 1)
                ai.set_delay(path_ms)  # Twilio -> app (the marks' echoes included)
                ai.set_playout_delay(path_ms)  # app -> the caller's ear (the clear included)
                results.append(realtime_trial(fake, ai, fork, sessions))
                ai.stop()
                fork.stop()
        finally:
            target.stop()
    done = [(c, t) for c, t in results if c is not None and t is not None]
    print(f"trials: {len(done)} of {len(results)} (gunicorn -k gevent, 1 worker, realtime on"
          f" the fake; {path_ms:.0f} ms each way between Forkline and the caller's playout)")
    if not done:
        return
    cancel, truncate = [c for c, _ in done], [t for _, t in done]
    print(f"VAD decision -> response.cancel at OpenAI: p50 {statistics.median(cancel):.0f} ms,"
          f" max {max(cancel):.0f} ms")
    print(f"VAD decision -> conversation.item.truncate (the clear's marks acknowledged): p50"
          f" {statistics.median(truncate):.0f} ms, max {max(truncate):.0f} ms")
    print(f"cancel / truncate (p50): {statistics.median(cancel) / statistics.median(truncate):.2f}"
          " (1.00: the cancel waited for the marks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--backend", choices=("echo", "realtime"), default="echo")
    parser.add_argument("--path-ms", type=float, default=100.0,
                        help="realtime: simulated one-way Twilio media path latency")
    args = parser.parse_args()
    if args.backend == "realtime":
        realtime_main(args.trials, args.path_ms)
        return
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
