"""A re-dialed AI (stream parameter `continues`) carries on the parked call it replaces."""
from __future__ import annotations

import pytest
from media_harness import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, Ticker, ai_client, token

from twilio_sim.media_client import MediaStreamClient

pytestmark = pytest.mark.slow
OLD, NEW = "CA" + "d" * 32, "CA" + "e" * 32


def tone(tick: int) -> bytes:
    return bytes([tick % 250, 3 + (tick // 250)]) * 80


TONES = {tone(t): t for t in range(500)}


def redialed_client(server, conference: str = "room") -> MediaStreamClient:
    params = {"conference": conference, "tenant": "1", "agent": "default", "mode": "speak",
              "coach": "", "token": token("ai", "ai", conference, call=NEW), "continues": OLD}
    return MediaStreamClient(server.ws("/twilio/ai-stream"), auth_token=TEST_AUTH_TOKEN,
                             account_sid=TEST_ACCOUNT_SID, call_sid=NEW,
                             custom_parameters=params, bidirectional=True)


@pytest.mark.parametrize("conference, continues", [("room", True), ("other", False)])
def test_new_call_continues_the_old_session(media_server, conference, continues):
    server = media_server()
    old = ai_client(server, OLD)
    old.connect()
    ticker = Ticker()
    ticker.run(40, [(old, tone)])
    heard_old = {TONES[f] for _, f in ticker.played(old) if f in TONES}
    old.drop()  # Twilio took the participant out: its socket is gone, the call parked
    new = redialed_client(server, conference)
    new.connect()
    ticker.run(40, [(new, lambda t: tone(t + 100))])
    ticker.run(30, [(new, lambda t: None)])
    heard_new = [TONES[f] for _, f in ticker.played(new) if f in TONES]
    new.stop()
    old_audio = [t for t in heard_new if t < 40]
    if continues:
        # The old call's unacknowledged tail comes out on the new call: same session, same
        # playout state (repeats stay within that tail, as on a reconnect of one call).
        assert old_audio and old_audio == sorted(old_audio)
        assert len(set(old_audio) & heard_old) <= 10
    else:
        assert old_audio == []  # another conference's call is never adopted
    assert any(t >= 100 for t in heard_new)
