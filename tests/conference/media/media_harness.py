"""Helpers for end-to-end media tests: signed Twilio-side clients and a real-time ticker."""
from __future__ import annotations

import time

from agents.audio import voiced_frame
from conference.twilio.security import make_stream_token
from twilio_sim.media_client import MediaStreamClient

SECRET = "test-secret"
TEST_ACCOUNT_SID = "AC" + "0" * 31 + "1"
TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def token(kind: str, label: str, conference: str = "room", tenant: int = 1,
          call: str | None = None) -> str:
    """A stream token as the orchestrator's TwiML would carry it (bound to `call`)."""
    return make_stream_token(SECRET, {"conference": conference, "tenant": tenant, "kind": kind,
                                      "label": label, "call": call})


def ai_client(server, call_sid: str, conference: str = "room") -> MediaStreamClient:
    """The simulated Twilio side of an AI leg's <Connect><Stream>."""
    params = {"conference": conference, "tenant": "1", "agent": "default", "mode": "speak",
              "coach": "", "token": token("ai", "ai", conference, call=call_sid)}
    return MediaStreamClient(server.ws("/twilio/ai-stream"), auth_token=TEST_AUTH_TOKEN,
                             account_sid=TEST_ACCOUNT_SID, call_sid=call_sid,
                             custom_parameters=params, bidirectional=True)


def ai_leg_in_room(server, call_sid: str, frames: int) -> MediaStreamClient:
    """The AI leg of conference `room` (seeded), connected, after `frames` frames of silence."""
    server.seed_room()
    client = ai_client(server, call_sid)
    client.connect()
    for _ in range(frames):
        client.send_tick(SILENCE)
    return client


def fork_client(server, call_sid: str, label: str,
                conference: str = "room") -> MediaStreamClient:
    """The simulated Twilio side of a human leg's <Start><Stream> fork."""
    params = {"conference": conference, "tenant": "1", "label": label, "role": "customer",
              "token": token("fork", label, conference, call=call_sid)}
    return MediaStreamClient(server.ws("/twilio/fork"), auth_token=TEST_AUTH_TOKEN,
                             account_sid=TEST_ACCOUNT_SID, call_sid=call_sid,
                             custom_parameters=params)


class Ticker:
    """Drive clients in real time, 20 ms per tick, recording what each bidirectional leg plays."""

    def __init__(self) -> None:
        self.tick = 0
        self.t0 = time.monotonic()
        self.recordings: dict[int, list[tuple[int, bytes]]] = {}

    def run(self, ticks: int, legs: list[tuple[MediaStreamClient, object]],
            play: bool = True) -> None:
        """For `ticks` ticks: send each leg's frame (source(tick) -> bytes|None), play out.

        `play=False` models a stalled Twilio playout: nothing plays and no mark is echoed.
        """
        for _ in range(ticks):
            due = self.t0 + self.tick * 0.02
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for client, source in legs:
                client.send_tick(inbound=source(self.tick))
                if client.bidirectional and play:
                    rec = self.recordings.setdefault(id(client), [])
                    rec.append((self.tick, client.playout_frame()))
            self.tick += 1

    def run_until(self, done, legs: list[tuple[MediaStreamClient, object]], limit: int = 500,
                  play: bool = True, every: int = 1) -> int:
        """Tick as run() until `done()` (checked every `every` ticks); the ticks it took.

        The condition is the event a test waits for (audio came back, a mark arrived): a busy
        box only makes it take more ticks. AssertionError after `limit` ticks.
        """
        start = self.tick
        while not done():
            if self.tick - start >= limit:
                raise AssertionError(f"not done after {limit} ticks: {done}")
            self.run(every, legs, play)
        return self.tick - start

    def played(self, client: MediaStreamClient) -> list[tuple[int, bytes]]:
        """(tick, frame) of everything `client`'s caller heard."""
        return self.recordings.get(id(client), [])


def voice(tick: int) -> bytes:
    """A voiced 20 ms frame (harmonics of 200 Hz) that webrtcvad hears as speech."""
    return voiced_frame(tick)


SILENCE = b"\xff" * 160
