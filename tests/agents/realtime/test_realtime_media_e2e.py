"""Realtime backend behind the real media plane: the app on gevent, a simulated Twilio AI leg.

The AI answers with the fake's audio byte for byte (mu-law passthrough end to end), and a
barge-in truncates the item at what the caller actually heard.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from agents.realtime.protocol import HARMLESS_ERRORS
from tests.fakes.realtime_server import RealtimeFake

MEDIA_TESTS = Path(__file__).resolve().parents[2] / "conference" / "media"
sys.path.insert(0, str(MEDIA_TESTS))
from media_harness import (  # noqa: E402
    SILENCE,
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    Ticker,
    ai_client,
    voice,
)

pytestmark = pytest.mark.slow


class App:
    """The app under test in a subprocess (the media tests' server script)."""

    def __init__(self, tmp_path, **overrides) -> None:
        config = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/e2e.sqlite",
                  "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
                  "TWILIO_API_URL": "http://127.0.0.1:9", "SECRET_KEY": "test-secret",
                  "TWILIO_TWIML_APP_SID": "AP" + "0" * 32, "TWILIO_CALLER_ID": "+15550000000",
                  "LOG_LEVEL": "WARNING", "RECORDINGS_DIR": f"{tmp_path}/rec", **overrides}
        env = dict(os.environ, FORKLINE_TEST_CONFIG=json.dumps(config))
        with open(tmp_path / "server.log", "wb") as log:
            self.proc = subprocess.Popen([sys.executable, str(MEDIA_TESTS / "media_server.py")],
                                         stdout=subprocess.PIPE, stderr=log, env=env)
        self.port = int(self.proc.stdout.readline())

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def leg(tmp_path):
    """(fake, connected AI-leg client) with the app's AI_BACKEND=realtime on the fake."""
    with RealtimeFake() as fake:
        noise = random.Random(5)  # aperiodic, so byte-equality checks cannot match by luck
        fake.reply_audio = bytes(noise.randrange(0x10, 0x70) for _ in range(3000 * 8))
        fake.delta_interval_s = 0.02  # 100 ms of audio per 20 ms: faster than real time
        app = App(tmp_path, AI_BACKEND="realtime", OPENAI_API_KEY="sk-test",
                  OPENAI_BASE_URL=fake.http_base_url)
        client = ai_client(app, "CA" + "e" * 32)
        try:
            client.connect()
            yield fake, client
        finally:
            client.stop()
            app.stop()


def silence(_tick: int) -> bytes:
    return SILENCE


def first_reply(ticker: Ticker, client) -> list[bytes]:
    """The first unbroken run of AI audio the caller heard (a later reply comes after a gap)."""
    run: list[bytes] = []
    for _, frame in ticker.played(client):
        if frame != SILENCE:
            run.append(frame)
        elif run:
            break
    return run


def test_ai_answers_and_barge_in_truncates_at_the_heard_position(leg):
    fake, client = leg
    ticker = Ticker()
    ticker.run(10, [(client, silence)])
    assert fake.wait_for(lambda: fake.received("session.update"), timeout=30)
    ticker.run(20, [(client, voice)])  # the caller asks
    for _ in range(500):  # 500 ms VAD silence, then the reply plays: listen to 400 ms of it
        ticker.run(1, [(client, silence)])
        if len(first_reply(ticker, client)) >= 20:
            break
    heard = first_reply(ticker, client)
    assert len(heard) >= 20, "the AI never answered"
    assert b"".join(heard) == fake.reply_audio[:len(heard) * 160]  # untouched mu-law
    ticker.run(10, [(client, voice)])  # the caller talks over the AI
    ticker.run(40, [(client, silence)])
    assert fake.wait_for(lambda: fake.truncations, timeout=10)
    heard = first_reply(ticker, client)
    assert b"".join(heard) == fake.reply_audio[:len(heard) * 160]
    (item, end_ms), = fake.truncations
    assert abs(end_ms - len(heard) * 20) <= 60  # what the caller heard, give or take 3 frames
    assert end_ms < 3000  # cut short: the rest of the reply never played
    # Our cancel may race the server's own (interrupt_response): harmless, nothing else.
    assert {e["error"]["code"] for e in fake.sent("error")} <= HARMLESS_ERRORS


def ask_and_listen(ticker: Ticker, client, frames: int = 20) -> list[bytes]:
    """Speak, then tick until `frames` of a new AI reply were heard; returns that reply."""
    start = len(ticker.played(client))
    ticker.run(20, [(client, voice)])
    reply: list[bytes] = []
    for _ in range(500):
        ticker.run(1, [(client, silence)])
        reply = [f for _, f in ticker.played(client)[start:] if f != SILENCE]
        if len(reply) >= frames:
            break
    return reply


def test_backend_socket_killed_mid_call_is_transparent_to_the_caller(leg):
    fake, client = leg
    fake.reply_audio = fake.reply_audio[:400 * 8]  # short replies
    ticker = Ticker()
    ticker.run(10, [(client, silence)])
    assert fake.wait_for(lambda: fake.received("session.update"), timeout=30)
    assert ask_and_listen(ticker, client) == list(_frames(fake.reply_audio))
    ticker.run(10, [(client, silence)])
    assert fake.kill_active(code=1011) == 1
    assert fake.wait_for(lambda: len(fake.received("session.update")) == 2, timeout=10)
    # The caller keeps talking: the same AI answers (no apology, no hang-up).
    assert ask_and_listen(ticker, client) == list(_frames(fake.reply_audio))
    assert len(fake.connections) == 2 and not fake.sent("error")


def _frames(audio: bytes):
    return (audio[i:i + 160] for i in range(0, len(audio), 160))
