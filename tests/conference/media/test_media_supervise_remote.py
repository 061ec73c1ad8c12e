"""Browser supervisor across workers (real Redis, no sockets): the page's worker and the
stream's worker exchange the leg's audio and the microphone through the listen relay, and only
while they are apart."""
from __future__ import annotations

import time
import uuid

import orjson
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conference.media import relay as listen_relay
from conference.media.bus import SignalBus
from conference.media.listen_hub import ListenHub
from conference.media.page_watch import Timing
from conference.media.relay import WANT, TapRelay
from conference.media.supervise import MicRelay
from conference.media.supervise_remote import BrowserEnd, mic_key, on_signal, remote_end
from conference.media.supervise_remote import supervisor_key as sup_key
from conference.media.taps import TapHub
from tests.support.tcpproxy import TcpProxy
from twilio_sim.testing import wait_for

FRAME = b"\x11" * 160


class Bus:
    """The signal bus as a list: the test delivers what one worker published to the other."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def publish(self, kind: str, **fields) -> None:
        self.sent.append(dict(fields, kind=kind))


class Worker:
    """The parts of a worker's media plane the supervisor relay uses (threads not started:
    the test runs the relay's sync and drain steps itself)."""

    def __init__(self, client) -> None:
        self.taps, self.relayed, self.browser_ends = TapHub(), set(), {}
        self.relay, self.listeners = TapRelay(self, client), ListenHub(self, client)
        self.bus = Bus()
        self.maintained = 0

    def local_taps(self) -> set[str]:
        return set(self.relayed)

    def ensure_maintenance(self) -> None:
        self.maintained += 1

    def deliver(self, other: Worker) -> None:
        """Hand this worker's bus signals to `other`."""
        while self.bus.sent:
            on_signal(other, self.bus.sent.pop(0))


@pytest.fixture
def key():
    return sup_key(7, "room-" + uuid.uuid4().hex, "console-3")


def carry(owner: Worker, tap: str, chunk: bytes, arrived) -> None:
    """Publish `chunk` on `owner`'s tap and relay it until `arrived()` (the owner attaches its
    feed at a sync, so the first chunks may meet no feed yet)."""
    def step():
        owner.relay.sync()
        owner.taps.publish(tap, chunk)
        owner.relay.drain()
        return arrived()
    wait_for(step, 5, 0.05, message=f"{tap} to cross")


def test_keys_are_per_tenant_conference_and_label():
    assert sup_key(7, "room", "console-3") == "sup:7:room:console-3"
    assert mic_key("sup:7:room:console-3") == "mic:7:room:console-3"
    assert sup_key(8, "room", "console-3") != sup_key(7, "room", "console-3")


def test_audio_crosses_both_ways_while_the_ends_are_apart(redis_client, key):
    page, stream = Worker(redis_client), Worker(redis_client)
    browser = MicRelay()
    end = BrowserEnd(page, browser, key).start()
    assert page.maintained == 1 and redis_client.zcard(WANT + key) == 1  # wanted before dialing
    twilio = remote_end(stream, key, "CA" + "1" * 32)
    assert twilio is not None
    twilio.start()
    assert key in stream.local_taps()
    assert not browser.twilio_attached  # until the bus says so
    stream.deliver(page)
    assert browser.twilio_attached and browser.notices[-1] == {
        "type": "connected", "call_sid": "CA" + "1" * 32}
    assert mic_key(key) in page.local_taps()

    # The conference audio, from the stream's worker to the page's relay.
    carry(stream, key, b"\x22" * 160, lambda: b"\x22" * 160 in browser.to_browser)
    # The microphone, from the page (validated as on the local path) to the stream's queue.
    assert browser.from_browser(b"\x00" * 7) is False and browser.malformed == 1
    carry(page, mic_key(key), FRAME, lambda: twilio.relay.to_twilio)
    assert set(twilio.relay.to_twilio) == {FRAME} and not browser.to_twilio
    frames = twilio.relay.due(0.0)  # paced on the stream's worker, as locally
    assert frames == [FRAME] and twilio.relay.due(5.0) == []

    twilio.stop()
    assert key not in stream.local_taps()
    stream.deliver(page)
    assert browser.ended and browser.notices[-1] == {"type": "ended"}
    end.stop()
    assert redis_client.zcard(WANT + key) == 0 and key not in page.browser_ends
    assert mic_key(key) not in page.local_taps()
    stream.relay.sync()
    page.relay.sync()
    assert stream.relay.feeds == {} and page.relay.feeds == {}  # nothing carried any more


def test_the_microphone_has_the_local_bound_on_the_stream_worker(redis_client, key):
    stream = Worker(redis_client)
    redis_client.zadd(WANT + key, {"page": 2e9})  # a page elsewhere wants the leg
    redis_client.expire(WANT + key, 30)
    twilio = remote_end(stream, key, "CA" + "2" * 32)
    assert twilio is not None
    for i in range(30):
        twilio.relay.from_browser(bytes([i]) * 160)
    assert len(twilio.relay.to_twilio) == 10 and twilio.relay.dropped_to_twilio == 20
    assert twilio.relay.to_twilio[0] == bytes([20]) * 160  # the oldest went first
    redis_client.delete(WANT + key)


def test_no_page_anywhere_means_no_remote_leg(redis_client, key):
    assert remote_end(Worker(redis_client), key, "CA" + "3" * 32) is None


def test_a_leg_on_the_pages_own_worker_uses_no_redis(redis_client, key):
    page = Worker(redis_client)
    browser = MicRelay()
    end = BrowserEnd(page, browser, key).start()
    browser.twilio_started("CA" + "4" * 32)  # the local SupervisorLeg found the relay
    end.settle()
    assert redis_client.zcard(WANT + key) == 0 and page.listeners.listeners(key) == 0
    assert browser.from_browser(FRAME) and list(browser.to_twilio) == [FRAME]  # stays local
    assert mic_key(key) not in page.local_taps()
    on_signal(page, {"key": key, "event": "connected", "call_sid": "CA" + "5" * 32})
    assert browser.mic_sink is None  # a stray signal cannot divert a local leg's microphone
    end.stop()


def test_an_ended_signal_of_another_leg_is_ignored(redis_client, key):
    page = Worker(redis_client)
    browser = MicRelay()
    end = BrowserEnd(page, browser, key).start()
    try:
        on_signal(page, {"key": key, "event": "connected", "call_sid": "CA" + "6" * 32})
        on_signal(page, {"key": key, "event": "ended", "call_sid": "CA" + "7" * 32})
        assert browser.twilio_attached and not browser.ended
    finally:
        end.stop()


def test_the_signal_bus_hands_supervisor_signals_to_the_page(redis_client, key):
    page = Worker(redis_client)
    browser = MicRelay()
    end = BrowserEnd(page, browser, key).start()
    try:
        bus = SignalBus(page, redis_client)
        bus.apply(orjson.dumps({"kind": "supervisor", "key": key, "event": "connected",
                                "call_sid": "CA" + "8" * 32, "worker": "another"}))
        assert browser.twilio_attached and browser.mic_sink is not None
    finally:
        end.stop()


def test_a_redis_outage_leaves_the_page_working_locally(key):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    page = Worker(dead)
    browser = MicRelay()
    end = BrowserEnd(page, browser, key).start()  # no exception: the local path still works
    assert page.listeners.listeners(key) == 0
    browser.twilio_started("CA" + "9" * 32)
    assert browser.from_browser(FRAME) and list(browser.to_twilio) == [FRAME]
    assert remote_end(Worker(dead), key, "CA" + "9" * 32) is None
    end.stop()


QUICK = Timing(check_s=0.05, grace_s=0.3)


def counted(twilio) -> list[int]:
    """Count the leg's page-gone endings (the watch calls the instance's page_gone)."""
    calls: list[int] = []
    end_leg = twilio.page_gone

    def page_gone() -> None:
        calls.append(1)
        end_leg()
    twilio.page_gone = page_gone
    return calls


def test_a_renewed_page_keeps_the_leg_and_a_dead_one_ends_it_once(redis_client, key, monkeypatch):
    monkeypatch.setattr(listen_relay, "ENTRY_TTL_S", 0.4)  # the page renews every 0.1 s
    monkeypatch.setattr(listen_relay, "REFRESH_S", 0.1)
    page, stream = Worker(redis_client), Worker(redis_client)
    end = BrowserEnd(page, MicRelay(), key).start()
    first = redis_client.zrange(WANT + key, 0, -1, withscores=True)[0][1]
    twilio = remote_end(stream, key, "CA" + "a" * 32)
    assert twilio is not None
    twilio.timing, calls = QUICK, counted(twilio)
    twilio.start()
    try:
        # Long past the first entry's expiry plus the grace, the renewed entry keeps the leg.
        wait_for(lambda: time.time() > first + 3 * QUICK.grace_s and twilio.watch.checks > 20,
                 10, message="checks past the first entry's expiry")
        assert not twilio.relay.ended and calls == []
        assert redis_client.zrange(WANT + key, 0, -1, withscores=True)[0][1] > first
        # kill -9 of the page's worker: its renewals stop, nothing withdraws the entry.
        page.listeners.shared[key][0].stopped.set()
        wait_for(lambda: twilio.relay.ended, 10, message="the dead page's leg to end")
        assert calls == [1] and twilio.watch.gone and twilio.watch.stopped.is_set()
        assert redis_client.zcount(WANT + key, time.time(), "+inf") == 0  # it expired, unwithdrawn
    finally:
        twilio.stop()
        end.stop()
    assert stream.bus.sent[-1]["event"] == "ended"  # the page (were it alive) hears it too


def test_a_redis_outage_never_ends_a_healthy_leg(redis_client, key):
    proxy = TcpProxy("127.0.0.1", 6379)
    cut_off = redis.Redis(host="127.0.0.1", port=proxy.port, socket_connect_timeout=0.5,
                          socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    expires = time.time() + 1.0
    redis_client.zadd(WANT + key, {"page": expires})  # a page elsewhere, renewing until the outage
    redis_client.expire(WANT + key, 30)
    stream = Worker(cut_off)
    twilio = remote_end(stream, key, "CA" + "b" * 32)
    assert twilio is not None
    twilio.timing, calls = QUICK, counted(twilio)
    twilio.start()
    proxy.cut()
    try:
        # The entry expires while Redis is unreachable: unknown, never "gone".
        wait_for(lambda: time.time() > expires + 3 * QUICK.grace_s
                 and twilio.watch.unreachable > 5, 15, message="checks during the outage")
        assert not twilio.relay.ended and calls == []
        proxy.restore()  # reachable again, and the page did not renew: now it is gone
        wait_for(lambda: twilio.relay.ended, 10, message="the leg to end after the outage")
        assert calls == [1]
    finally:
        twilio.stop()
        cut_off.close()
        proxy.close()
        redis_client.delete(WANT + key)
