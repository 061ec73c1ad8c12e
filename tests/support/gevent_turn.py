"""One caller turn through an AgentSession under gevent, for subprocess drivers.

Import it after `monkey.patch_all()`. A ticker greenlet shows whether the hub kept running
while the session worked (`max_gap_ms`).
"""
from __future__ import annotations

import time

import gevent

from agents import audio
from agents.base import AudioOut, ResponseDone, Transcript


def drive_turn(session, ulaw: bytes) -> dict:
    """Connect, say `ulaw` in 20 ms frames, read to ResponseDone; what came back."""
    ticks: list[float] = []

    def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    hub_probe = gevent.spawn(ticker)
    session.connect()
    for frame in audio.split_frames(ulaw):
        session.send_audio(frame)
        gevent.sleep(0.002)
    got, status, texts = 0, None, []
    while status is None:
        event = session.next_event(timeout=20)
        if event is None:
            break
        if isinstance(event, AudioOut):
            got += len(event.ulaw)
        if isinstance(event, Transcript):
            texts.append(event.text)
        if isinstance(event, ResponseDone):
            status = event.status
    session.close()
    hub_probe.kill()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)] or [0.0]
    return {"audio_ms": got // 8, "status": status, "texts": texts,
            "max_gap_ms": round(max(gaps) * 1000), "ticks": len(ticks)}
