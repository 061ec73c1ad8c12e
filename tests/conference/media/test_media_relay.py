"""The listen relay against a real Redis: audio crosses workers only while someone wants it."""
from __future__ import annotations

import threading
import time

import pytest
import redis

from conference.media.relay import WANT, RelayFeed, RemoteListen, TapRelay
from tests.support.relay_plane import Plane
from twilio_sim.testing import wait_for


def collector():
    got: list[bytes] = []
    arrived = threading.Event()

    def callback(chunk: bytes) -> None:
        got.append(chunk)
        arrived.set()
    return got, arrived, callback


def test_a_leg_is_carried_only_while_a_remote_listener_wants_it(redis_client, tap_key):
    owner = TapRelay(Plane({tap_key}), redis_client)
    owner.sync()
    assert owner.feeds == {} and not owner.plane.taps.has_subscribers(tap_key)  # nobody listens
    got, arrived, callback = collector()
    listener = RemoteListen(Plane(set()), redis_client, tap_key, callback).start()
    try:
        owner.sync()
        assert owner.plane.taps.has_subscribers(tap_key)
        owner.plane.taps.publish(tap_key, b"\x01" * 160)
        owner.plane.taps.publish(tap_key, b"\x02" * 160)
        assert owner.drain() == 2
        wait_for(lambda: len(got) == 2, 5, message="two relayed chunks")
        assert got == [b"\x01" * 160, b"\x02" * 160]
    finally:
        listener.stop()
    owner.sync()  # the listener withdrew: the owner stops at its next sync
    assert owner.feeds == {} and not owner.plane.taps.has_subscribers(tap_key)
    owner.plane.taps.publish(tap_key, b"\x03" * 160)
    assert owner.drain() == 0


def test_a_listener_on_the_owning_worker_never_asks_for_redis(redis_client, tap_key):
    listener = RemoteListen(Plane({tap_key}), redis_client, tap_key, lambda chunk: None).start()
    try:
        assert redis_client.zcard(WANT + tap_key) == 0
        assert TapRelay(Plane({tap_key}), redis_client).wanted([tap_key], time.time()) == set()
    finally:
        listener.stop()


def test_a_listener_on_the_owning_worker_ignores_the_relayed_copy(redis_client, tap_key):
    # A listener on another worker makes the owner publish; the owner's own listener is on
    # the same channel but already hears the tap locally: it must not get the chunk twice.
    owner = TapRelay(Plane({tap_key}), redis_client)
    local_got, _, local_callback = collector()
    local = RemoteListen(Plane({tap_key}), redis_client, tap_key, local_callback).start()
    far_got, _, far_callback = collector()
    far = RemoteListen(Plane(set()), redis_client, tap_key, far_callback).start()
    try:
        owner.sync()
        owner.plane.taps.publish(tap_key, b"\x01" * 160)
        assert owner.drain() == 1
        wait_for(lambda: far_got and local.received == 1, 5, message="both read the channel")
        assert far_got == [b"\x01" * 160] and local_got == []
    finally:
        far.stop()
        local.stop()


def test_a_dead_listeners_entry_expires(redis_client, tap_key):
    # Its worker died before withdrawing the entry.
    redis_client.zadd(WANT + tap_key, {"gone": time.time() - 1})
    redis_client.expire(WANT + tap_key, 30)
    relay = TapRelay(Plane({tap_key}), redis_client)
    assert relay.wanted([tap_key], time.time()) == set()
    redis_client.zadd(WANT + tap_key, {"alive": time.time() + 4})
    assert relay.wanted([tap_key, "CA-other"], time.time()) == {tap_key}
    redis_client.delete(WANT + tap_key)


def test_the_feed_is_bounded_and_drops_the_oldest_audio():
    wake = threading.Event()
    feed = RelayFeed(wake, limit=25)
    for i in range(30):
        feed(bytes([i]))
    assert wake.is_set() and feed.dropped == 5
    assert list(feed.chunks) == [bytes([i]) for i in range(5, 30)]


def test_a_redis_outage_never_reaches_the_audio_path(tap_key):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    relay = TapRelay(Plane({tap_key}), dead)
    feed = RelayFeed(relay.wake)
    relay.feeds[tap_key] = (feed, relay.plane.taps.subscribe(tap_key, feed))
    relay.plane.taps.publish(tap_key, b"\xff" * 160)  # the tap callback itself never touches Redis
    assert list(feed.chunks) == [b"\xff" * 160] and relay.plane.taps.errors == 0
    with pytest.raises(redis.ConnectionError):
        relay.drain()  # only the drainer meets the outage (its loop logs and retries)
