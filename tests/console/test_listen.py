"""Browser live-listen socket: tap audio reaches a signed-in listener; refusals happen before
the upgrade; a listener that stops reading loses its oldest audio, never slows the tap."""
from __future__ import annotations

import pytest
from simple_websocket import Client

from conference.media import registry
from console.listen import ListenQueue
from twilio_sim.testing import wait_for

UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def test_queue_drops_oldest_audio_for_a_slow_reader():
    queue = ListenQueue(limit=10)
    for i in range(100):
        queue(bytes([i]) * 160)  # the audio path never waits, however slow the reader
    assert queue.dropped == 90
    chunks = queue.take(0)
    assert [c[0] for c in chunks] == list(range(90, 100))
    assert queue.take(0) == []


def test_listener_hears_the_leg(twilio_app, room, console_as, server):
    console = console_as("acme", "sup@acme.test")
    cookie = console.client.get_cookie("session").value
    # simple_websocket's client sends `Host: 127.0.0.1` without the port; Origin must match it.
    ws = Client.connect(f"ws://127.0.0.1:{server}/console/listen/room?leg=customer",
                        headers={"Cookie": f"session={cookie}", "Origin": "http://127.0.0.1"})
    try:
        taps = registry.get_plane(twilio_app).taps
        key = room["calls"]["customer"]
        wait_for(lambda: taps.has_subscribers(key), 5)  # subscribed after the handshake
        taps.publish(key, b"\x12" * 160)
        assert ws.receive(timeout=5) == b"\x12" * 160
    finally:
        ws.close()


@pytest.mark.parametrize("leg", ["customer", "mix"])
def test_listen_refusals_happen_before_the_upgrade(twilio_app, room, console_as, leg):
    path = f"/console/listen/room?leg={leg}"
    origin = {"Origin": "http://localhost"}
    signed_out = twilio_app.test_client().get(path, headers=UPGRADE | origin)
    assert signed_out.status_code == 401
    other = console_as("globex", "boss@globex.test").client
    assert other.get(path, headers=UPGRADE | origin).status_code == 404
    acme = console_as("acme", "sup@acme.test").client
    cross = acme.get(path, headers=UPGRADE | {"Origin": "https://evil.test"})
    assert cross.status_code == 403
    assert acme.get("/console/listen/room?leg=nobody", headers=UPGRADE | origin).status_code \
        == 404
