"""The browser supervisor relay (sans-I/O): bounded drop-oldest queues both ways, paced audio
towards Twilio, notices for the browser, one relay per (tenant, conference, label)."""
from __future__ import annotations

from flask import Flask

from conference.media import facade, metrics
from conference.media.supervise import (
    CATCH_UP,
    FRAME_MS,
    TO_BROWSER_CHUNKS,
    TO_TWILIO_FRAMES,
    MicRelay,
    close_relay,
    find_relay,
    open_relay,
)


def frame(n: int) -> bytes:
    return bytes([n % 256]) * 160


def test_a_browser_that_stops_reading_loses_its_oldest_audio():
    relay = MicRelay()
    for i in range(TO_BROWSER_CHUNKS + 40):
        relay.from_twilio(frame(i))  # the audio path never waits
    assert relay.dropped_to_browser == 40
    notices, chunks = relay.take(0)
    assert notices == [] and [c[0] for c in chunks] == list(range(40, TO_BROWSER_CHUNKS + 40))
    assert relay.take(0) == ([], [])


def test_a_bursting_microphone_keeps_only_its_newest_frames():
    relay = MicRelay()
    for i in range(TO_TWILIO_FRAMES + 5):
        assert relay.from_browser(frame(i))
    assert relay.dropped_to_twilio == 5
    assert [f[0] for f in relay.to_twilio] == list(range(5, TO_TWILIO_FRAMES + 5))


def test_frames_of_the_wrong_size_are_counted_and_skipped():
    relay = MicRelay()
    assert not relay.from_browser(b"\xff" * 159)
    assert not relay.from_browser(b"")
    assert relay.malformed == 2 and not relay.to_twilio


def test_audio_to_twilio_leaves_one_frame_per_20_ms():
    relay = MicRelay()
    for i in range(6):
        relay.from_browser(frame(i))
    sent = []
    for tick in range(8):  # a tick every 10 ms: every other tick sends
        sent.append([f[0] for f in relay.due(1000.0 + tick * FRAME_MS / 2)])
    assert sent == [[0], [], [1], [], [2], [], [3], []]


def test_a_late_tick_catches_up_a_little_and_skips_the_backlog():
    relay = MicRelay()
    for i in range(TO_TWILIO_FRAMES):
        relay.from_browser(frame(i))
    assert [f[0] for f in relay.due(0.0)] == [0]
    late = relay.due(10 * FRAME_MS)  # the sender slept 200 ms
    assert [f[0] for f in late] == list(range(1, 1 + CATCH_UP))
    # No burst of the ticks it missed: the next frame is due a tick later.
    assert relay.due(10 * FRAME_MS) == []
    assert [f[0] for f in relay.due(11 * FRAME_MS)] == [1 + CATCH_UP]


def test_an_idle_microphone_sends_its_next_frame_at_once():
    relay = MicRelay()
    relay.from_browser(frame(1))
    assert len(relay.due(0.0)) == 1
    assert relay.due(500.0) == []
    relay.from_browser(frame(2))
    assert [f[0] for f in relay.due(501.0)] == [2]


def test_notices_reach_the_browser_in_order():
    relay = MicRelay()
    relay.twilio_started("CA" + "1" * 32)
    relay.from_twilio(frame(7))
    relay.twilio_ended()
    notices, chunks = relay.take(0)
    assert [n["type"] for n in notices] == ["connected", "ended"]
    assert chunks == [frame(7)] and relay.ended and relay.twilio_attached


def test_one_open_relay_per_label():
    app = Flask(__name__)
    relay = open_relay(app, 1, "room", "console-3")
    assert relay is not None
    assert open_relay(app, "1", "room", "console-3") is None  # a second page of the user
    assert find_relay(app, 1, "room", "console-3") is relay
    assert find_relay(app, 2, "room", "console-3") is None  # another tenant's room
    close_relay(app, 1, "room", "console-3", relay)
    assert relay.ended and find_relay(app, 1, "room", "console-3") is None
    again = open_relay(app, 1, "room", "console-3")
    assert again is not None and again is not relay
    close_relay(app, 1, "room", "console-3", relay)  # a stale close leaves the new one
    assert find_relay(app, 1, "room", "console-3") is again


def test_a_closed_relay_adds_its_drops_to_the_metrics():
    def sample(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    before = (sample("forkline_supervisor_audio_dropped_total", direction="to_twilio"),
              sample("forkline_media_malformed_total", reason="mic_frame_size"))
    relay = MicRelay()
    for i in range(TO_TWILIO_FRAMES + 3):
        relay.from_browser(frame(i))
    relay.from_browser(b"\x00")
    facade.count_relay(relay)
    after = (sample("forkline_supervisor_audio_dropped_total", direction="to_twilio"),
             sample("forkline_media_malformed_total", reason="mic_frame_size"))
    assert (after[0] - before[0], after[1] - before[1]) == (3, 1)


def test_a_supervisor_stream_opens_only_with_its_own_calls_supervisor_token(app):
    from conference.media.codec import Start
    from conference.media.registry import get_plane
    from conference.media.sockets import stream_info
    from conference.twilio.security import make_stream_token

    call, other = "CA" + "1" * 32, "CA" + "2" * 32
    claims = {"conference": "room", "tenant": 7, "kind": "supervisor", "label": "console-3",
              "user": 3}

    def start(token_claims: dict) -> Start:
        token = make_stream_token(app.config["SECRET_KEY"], token_claims)
        return Start(1, "MZ" + "3" * 32, "AC" + "0" * 32, call, ("inbound",),
                     {"token": token, "conference": "room"})

    with app.app_context():
        plane = get_plane(app)
        info = stream_info(plane, start(dict(claims, call=call)), "supervisor")
        assert (info["tenant"], info["conference"], info["label"], info["user"]) == \
            ("7", "room", "console-3", 3)
        assert stream_info(plane, start(dict(claims, call=other)), "supervisor") is None
        assert stream_info(plane, start(claims), "supervisor") is None  # the dial token
        assert stream_info(plane, start(dict(claims, call=call, kind="ai")), "supervisor") \
            is None
        assert stream_info(plane, start(dict(claims, call=call)), "ai") is None
