"""Barge-in against the Realtime fake: when do response.cancel and the truncate reach OpenAI?

The product runs with AI_BACKEND=realtime on an in-process Realtime fake that stamps every
client event on arrival (the same clock as the simulated caller). Each trial: the caller asks,
the fake answers at real-time pace (so the model is still generating), and once the answer is
heard a human fork talks over it. Measured from the fork's VAD decision frame.
"""
from __future__ import annotations

import time

from agents.audio import voiced_frame
from bench._targets import Forkline
from tests.fakes.realtime_server import RealtimeFake, silence_ulaw, tone_ulaw

SILENCE = b"\xff" * 160
VAD_FRAMES = 3  # the fork's VAD decides on its 3rd voiced frame


class StampedFake(RealtimeFake):
    """The fake, noting (monotonic time, type) of every client event it receives."""

    def __init__(self) -> None:
        super().__init__(reply_ms=3000)
        self.delta_interval_s = 0.1  # 100 ms of audio per 100 ms: still talking when cut
        self.stamps: list[tuple[float, str]] = []

    def _note_received(self, event: dict, record: dict) -> None:
        self.stamps.append((time.monotonic(), event.get("type", "")))
        super()._note_received(event, record)

    def first_after(self, etype: str, since: float) -> float | None:
        """ms from `since` to the first `etype` received after it, None if none came."""
        times = [t for t, kind in list(self.stamps) if kind == etype and t >= since]
        return (times[0] - since) * 1000 if times else None


class RealtimeForkline(Forkline):
    """The product target with the Realtime backend pointed at the fake."""

    def __init__(self, workdir, fake: StampedFake) -> None:
        super().__init__(workdir)
        self.fake = fake

    def env(self) -> dict:
        env = super().env()
        env.update(AI_BACKEND="realtime", OPENAI_API_KEY="sk-bench",
                   OPENAI_BASE_URL=self.fake.http_base_url)
        return env


def _frames(ulaw: bytes) -> list[bytes]:
    return [ulaw[i:i + 160] for i in range(0, len(ulaw), 160)]


def trial(fake: StampedFake, ai, fork, sessions: int) -> tuple[float | None, float | None]:
    """(decision -> response.cancel ms, decision -> conversation.item.truncate ms)."""
    clock = _Clock()
    while len(fake.received("session.update")) <= sessions:  # this call's backend comes up
        clock.tick(ai, SILENCE, fork, SILENCE)
        if clock.ticks > 500:
            return None, None
    question = _frames(tone_ulaw(400) + silence_ulaw(700))
    heard = 0
    for tick in range(600):
        played = clock.tick(ai, question[tick] if tick < len(question) else SILENCE,
                            fork, SILENCE)
        heard += played != SILENCE
        if heard >= 10:  # 200 ms of the answer reached the caller
            break
    decided = 0.0
    for tick in range(60):
        clock.tick(ai, SILENCE, fork, voiced_frame(tick) if tick < 40 else SILENCE)
        if tick == VAD_FRAMES - 1:
            decided = clock.fork_sent_at
    return (fake.first_after("response.cancel", decided),
            fake.first_after("conversation.item.truncate", decided))


class _Clock:
    """20 ms ticks in real time for the AI leg and the fork."""

    def __init__(self) -> None:
        self.t0, self.ticks = time.monotonic(), 0
        self.fork_sent_at = 0.0

    def tick(self, ai, ai_frame: bytes, fork, fork_frame: bytes) -> bytes:
        time.sleep(max(0.0, self.t0 + self.ticks * 0.02 - time.monotonic()))
        self.ticks += 1
        fork.send_tick(inbound=fork_frame)
        self.fork_sent_at = time.monotonic()
        ai.send_tick(inbound=ai_frame)
        return ai.playout_frame()
