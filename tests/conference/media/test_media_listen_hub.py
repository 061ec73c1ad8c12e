"""Relayed listeners of one worker share one Redis subscription per tap (real Redis)."""
from __future__ import annotations

import threading

from conference.media.listen_hub import Fanout, ListenHub
from conference.media.relay import AUDIO, WANT, TapRelay
from tests.support.relay_plane import Plane
from twilio_sim.testing import wait_for


class Ear:
    """One listener's callback: what it heard."""

    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.arrived = threading.Event()

    def __call__(self, chunk: bytes) -> None:
        self.got.append(chunk)
        self.arrived.set()


def subscribers(client, key: str) -> int:
    return dict(client.pubsub_numsub(AUDIO + key)).get((AUDIO + key).encode(), 0)


def test_listeners_on_one_worker_share_one_subscription_and_all_hear(redis_client, tap_key):
    hub, owner = ListenHub(Plane(set()), redis_client), TapRelay(Plane({tap_key}), redis_client)
    ears = [Ear() for _ in range(4)]
    leaves = [hub.join(tap_key, ear) for ear in ears]
    assert subscribers(redis_client, tap_key) == 1 and hub.listeners(tap_key) == 4
    # One want entry for the worker, not one per listener.
    assert redis_client.zcard(WANT + tap_key) == 1
    owner.sync()
    owner.plane.taps.publish(tap_key, b"\x07" * 160)
    assert owner.drain() == 1  # published once, however many listen on the other worker
    for ear in ears:
        wait_for(lambda ear=ear: ear.got, 5, message="every listener's chunk")
        assert ear.got == [b"\x07" * 160]

    for leave in leaves[:3]:
        leave()
    # The last listener keeps the subscription.
    assert subscribers(redis_client, tap_key) == 1 and hub.listeners(tap_key) == 1
    owner.plane.taps.publish(tap_key, b"\x08" * 160)
    owner.drain()
    wait_for(lambda: len(ears[3].got) == 2, 5, message="the remaining listener's chunk")
    assert [len(ear.got) for ear in ears[:3]] == [1, 1, 1]

    leaves[3]()
    leaves[3]()  # a second call of the same leave is a no-op
    assert redis_client.zcard(WANT + tap_key) == 0 and hub.listeners(tap_key) == 0
    wait_for(lambda: subscribers(redis_client, tap_key) == 0, 5,
             message="the subscription to close")
    owner.sync()
    assert owner.feeds == {}  # the owner stops carrying the leg


def test_a_new_listener_after_the_last_left_opens_a_fresh_subscription(redis_client, tap_key):
    hub = ListenHub(Plane(set()), redis_client)
    hub.join(tap_key, Ear())()
    ear = Ear()
    leave = hub.join(tap_key, ear)
    try:
        assert hub.listeners(tap_key) == 1 and redis_client.zcard(WANT + tap_key) == 1
        wait_for(lambda: subscribers(redis_client, tap_key) == 1, 5,
                 message="one live subscription")
    finally:
        leave()
    wait_for(lambda: subscribers(redis_client, tap_key) == 0, 5,
             message="the subscription to close")


def test_a_failing_listener_never_silences_the_others():
    fanout, ear = Fanout(), Ear()

    def broken(chunk: bytes) -> None:
        raise RuntimeError("a broken listener")

    fanout.callbacks = (broken, ear)
    fanout(b"\x01" * 160)
    assert ear.got == [b"\x01" * 160] and fanout.errors == 1
