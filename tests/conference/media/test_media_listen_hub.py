"""Relayed listeners of one worker share one Redis subscription per tap (real Redis)."""
from __future__ import annotations

import threading
import uuid

import pytest
import redis

from conference.media.listen_hub import Fanout, ListenHub
from conference.media.relay import AUDIO, WANT, TapRelay
from conference.media.taps import TapHub
from twilio_sim.testing import wait_for


class Plane:
    """What the relay needs of a worker's media plane: its taps and which of them it owns."""

    def __init__(self, owned: set[str]) -> None:
        self.taps, self.owned = TapHub(), owned

    def local_taps(self) -> set[str]:
        return set(self.owned)


@pytest.fixture
def client():
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=5)
    yield client
    client.close()


@pytest.fixture
def key():
    return "CA" + uuid.uuid4().hex  # fresh per test: the Redis is shared


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


def test_listeners_on_one_worker_share_one_subscription_and_all_hear(client, key):
    hub, owner = ListenHub(Plane(set()), client), TapRelay(Plane({key}), client)
    ears = [Ear() for _ in range(4)]
    leaves = [hub.join(key, ear) for ear in ears]
    assert subscribers(client, key) == 1 and hub.listeners(key) == 4
    assert client.zcard(WANT + key) == 1  # one want entry for the worker, not one per listener
    owner.sync()
    owner.plane.taps.publish(key, b"\x07" * 160)
    assert owner.drain() == 1  # published once, however many listen on the other worker
    for ear in ears:
        wait_for(lambda ear=ear: ear.got, 5, message="every listener's chunk")
        assert ear.got == [b"\x07" * 160]

    for leave in leaves[:3]:
        leave()
    assert subscribers(client, key) == 1 and hub.listeners(key) == 1  # the last keeps it
    owner.plane.taps.publish(key, b"\x08" * 160)
    owner.drain()
    wait_for(lambda: len(ears[3].got) == 2, 5, message="the remaining listener's chunk")
    assert [len(ear.got) for ear in ears[:3]] == [1, 1, 1]

    leaves[3]()
    leaves[3]()  # a second call of the same leave is a no-op
    assert client.zcard(WANT + key) == 0 and hub.listeners(key) == 0
    wait_for(lambda: subscribers(client, key) == 0, 5, message="the subscription to close")
    owner.sync()
    assert owner.feeds == {}  # the owner stops carrying the leg


def test_a_new_listener_after_the_last_left_opens_a_fresh_subscription(client, key):
    hub = ListenHub(Plane(set()), client)
    hub.join(key, Ear())()
    ear = Ear()
    leave = hub.join(key, ear)
    try:
        assert hub.listeners(key) == 1 and client.zcard(WANT + key) == 1
        wait_for(lambda: subscribers(client, key) == 1, 5, message="one live subscription")
    finally:
        leave()
    wait_for(lambda: subscribers(client, key) == 0, 5, message="the subscription to close")


def test_a_failing_listener_never_silences_the_others():
    fanout, ear = Fanout(), Ear()

    def broken(chunk: bytes) -> None:
        raise RuntimeError("a broken listener")

    fanout.callbacks = (broken, ear)
    fanout(b"\x01" * 160)
    assert ear.got == [b"\x01" * 160] and fanout.errors == 1
