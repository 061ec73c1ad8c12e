"""Replay rings: trimming and cursors in memory; mirrored to the real Redis for another worker."""
from __future__ import annotations

import os
import tracemalloc
import uuid

import pytest
import redis

from conference.media.replay import CallReplay, RedisReplayStore, ReplayStore, Ring

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def frame(i: int) -> bytes:
    return bytes([i % 256]) * 160


def test_ring_keeps_the_newest_bytes_with_absolute_indices():
    ring = Ring(max_bytes=160 * 3)
    for i in range(5):
        assert ring.append(frame(i)) == i
    assert ring.since(0) == [frame(2), frame(3), frame(4)]
    assert ring.since(4) == [frame(4)]
    assert ring.next_index == 5


def test_frames_that_straddle_the_end_of_the_buffer_come_back_whole():
    ring = Ring(max_bytes=1000)
    sent = [bytes([i]) * (150 + 7 * i) for i in range(12)]  # uneven sizes: every wrap offset
    for i, data in enumerate(sent):
        assert ring.append(data) == i
    held = ring.since(0)
    assert held == sent[-len(held):] and sum(map(len, held)) <= 1000
    assert sum(map(len, sent[-len(held) - 1:])) > 1000  # one more would not have fitted
    assert len(ring) == len(held) and ring.first_index == 12 - len(held)


def test_replay_from_a_position_across_the_wrap():
    ring = Ring(max_bytes=160 * 4)
    for i in range(10):
        ring.append(frame(i))
    assert ring.since(7) == [frame(7), frame(8), frame(9)]
    assert ring.since(3) == [frame(i) for i in range(6, 10)]  # older than held: what is left
    assert ring.since(10) == [] and ring.since(99) == []
    assert ring.frames == [(i, frame(i)) for i in range(6, 10)]


def test_an_oversized_frame_keeps_its_newest_bytes_and_restart_sets_the_index():
    ring = Ring(max_bytes=100)
    ring.append(b"a" * 30)
    ring.append(bytes(range(250)))
    assert ring.since(0) == [bytes(range(150, 250))] and ring.first_index == 1
    ring.restart_at(42)
    assert ring.since(0) == [] and ring.append(b"x") == 42 and ring.since(42) == [b"x"]


def test_tiny_frames_are_bounded_by_count_not_only_bytes():
    ring = Ring(max_bytes=160 * 10)
    for i in range(100):
        ring.append(bytes([i]))
    assert len(ring) == len(ring.lens) and ring.since(0)[-1] == bytes([99])


def test_full_rings_take_new_frames_without_allocating_per_frame():
    # An AI stream keeps 8 s in + 4 s out: the rings are allocated once, at their full size,
    # and a steady-state append copies into them; no frame stays alive as a Python object.
    replay = CallReplay(inbound_s=8.0, outbound_s=4.0)
    buffers = (replay.inbound.buf, replay.outbound.buf)
    assert [len(b) for b in buffers] == [64000, 32000]
    audio = [bytes([i]) * 160 for i in range(256)]
    for f in audio * 3:  # past full: eviction and wrap-around run in what is measured next
        replay.inbound.append(f)
        replay.outbound.append(f)
    tracemalloc.start()
    try:
        for _ in range(4):
            for i in range(256):
                replay.inbound.append(bytes([i]) * 160)  # a fresh frame, as the codec makes
                replay.outbound.append(bytes([i]) * 160)
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert retained < 1024  # 2048 frames (320 KB) went through; per-frame objects would stay
    assert (replay.inbound.buf, replay.outbound.buf) == buffers
    assert all(a is b for a, b in zip((replay.inbound.buf, replay.outbound.buf), buffers,
                                      strict=True))
    assert replay.inbound.since(replay.inbound.next_index - 2) == [audio[254], audio[255]]
    # Frame lengths take 2 bytes each up to 64 KB of ring, 4 beyond it.
    assert replay.inbound.lens.itemsize == 2
    big = Ring(max_bytes=100_000)
    assert big.lens.itemsize == 4 and big.append(bytes(70_000)) == 0
    assert big.since(0) == [bytes(70_000)]


def test_cursors_select_missed_and_unacked():
    replay = CallReplay(inbound_s=1.0, outbound_s=1.0)
    for i in range(10):
        replay.inbound.append(frame(i))
        replay.outbound.append(frame(100 + i))
    replay.fed, replay.out_acked = 7, 9
    assert replay.missed_inbound() == [frame(7), frame(8), frame(9)]
    assert replay.unacked_outbound() == [frame(109)]


def test_memory_store_forgets():
    store = ReplayStore(8.0, 4.0)
    replay = store.get("CA1")
    store.add_inbound(replay, frame(1))
    assert store.get("CA1") is replay
    store.forget("CA1")
    assert store.get("CA1").inbound.frames == type(replay.inbound.frames)()


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # CI has Redis: an unreachable server fails the test, never skips it
    yield client
    client.close()


def test_redis_mirror_lets_another_worker_resume(redis_client):
    call = "CA" + uuid.uuid4().hex
    worker_a = RedisReplayStore(redis_client, inbound_s=0.1, outbound_s=0.1)  # 5 frames each
    replay = worker_a.get(call)
    for i in range(8):
        worker_a.add_inbound(replay, frame(i))
    for i in range(3):
        worker_a.add_outbound(replay, frame(50 + i))
    replay.fed, replay.out_acked = 6, 1
    worker_a.flush()
    worker_b = RedisReplayStore(redis_client, inbound_s=0.1, outbound_s=0.1)
    assert worker_b.knows(call) and not worker_b.knows(call + "x")
    resumed = worker_b.get(call)
    assert resumed.inbound.since(0) == [frame(i) for i in range(3, 8)]
    assert resumed.inbound.next_index == 8
    assert resumed.missed_inbound() == [frame(6), frame(7)]
    assert resumed.unacked_outbound() == [frame(51), frame(52)]
    assert redis_client.ttl(f"forkline:replay:{call}") > 0
    worker_b.forget(call)
    assert not redis_client.exists(f"forkline:replay:{call}", f"forkline:replay:{call}:in")
