"""Barge-in end to end: the clear cuts the AI's item; truncation matches the ear.

How fast the caller goes silent is a timing, measured by bench/media_bargein.py, not asserted
here: under load the real-time ticker runs ahead of the server by any number of ticks.
"""
from __future__ import annotations

import pytest
from fake_backends import talk_frame
from media_harness import SILENCE, Ticker, ai_client, fork_client, voice

from twilio_sim.testing import wait_for

pytestmark = pytest.mark.slow
AI_CALL = "CA" + "a" * 32
ALICE = "CA" + "b" * 32
BOB = "CA" + "c" * 32
TALK = {talk_frame(i): i for i in range(150)}


def silence(_tick: int) -> bytes:
    return SILENCE


def heard_frames(played):
    """(ticks at which talker frames played, the talker frame indices, in order)."""
    ticks = [tick for tick, frame in played if frame in TALK]
    return ticks, [TALK[frame] for tick, frame in played if frame in TALK]


def tick_until_cleared(ticker: Ticker, ai, legs, limit: int = 500) -> None:
    """Tick until the caller's playout has applied a clear; the limit is a timeout, not a bound."""
    for _ in range(limit):
        if ai.session.clears:
            return
        ticker.run(1, legs)
    raise AssertionError("no clear reached the caller")


def test_fork_vad_barge_in_clears_the_ai(media_server):
    server = media_server(AI_BACKEND="talker")
    ai, alice = ai_client(server, AI_CALL), fork_client(server, ALICE, "alice")
    ai.connect()
    alice.connect()
    ticker = Ticker()
    ticker.run(50, [(ai, silence), (alice, silence)])  # the AI talks for 1 s
    signal_tick = ticker.tick + 2  # the VAD decides on the 3rd voiced frame
    tick_until_cleared(ticker, ai, [(ai, silence), (alice, voice)])
    cleared_at = ticker.tick
    ticker.run(10, [(ai, silence), (alice, voice)])
    ticks, frames = heard_frames(ticker.played(ai))
    assert frames == list(range(len(frames)))  # in order, nothing skipped before the cut
    assert ticks[-1] >= signal_tick - 1  # the AI was still talking at the interruption
    assert ticks[-1] < cleared_at and len(frames) < 150  # the rest of the item never played
    event = wait_for(lambda: server.events("barge-in"))[0]
    assert event["source"] == "vad" and event["speaker"] == "alice"
    assert event["item_id"] == "talk-1"
    assert abs(event["heard_ms"] - len(frames) * 20) <= 40
    assert server.metric("forkline_media_clears_total") == 1
    speech = wait_for(lambda: server.events("speech-started"))
    assert speech[0] == {"speaker": "alice", "barge_in": True}
    assert server.metric("forkline_media_barge_in_reaction_seconds_count") == 1


def test_backend_speech_started_barge_in(media_server):
    server = media_server(AI_BACKEND="talker")
    ai = ai_client(server, AI_CALL)
    ai.connect()
    ticker = Ticker()
    ticker.run(40, [(ai, silence)])
    signal_tick = ticker.tick  # the talker raises SpeechStarted on the first voiced frame
    tick_until_cleared(ticker, ai, [(ai, voice)])
    cleared_at = ticker.tick
    ticker.run(10, [(ai, voice)])
    ticks, frames = heard_frames(ticker.played(ai))
    assert ticks[-1] >= signal_tick - 1  # the AI was still talking at the interruption
    assert ticks[-1] < cleared_at and len(frames) < 150  # the rest of the item never played
    event = wait_for(lambda: server.events("barge-in"))[0]
    assert event["source"] == "backend"
    assert abs(event["heard_ms"] - len(frames) * 20) <= 40


def test_humans_talking_while_ai_is_silent_is_not_a_barge_in(media_server):
    server = media_server(AI_BACKEND="talker")
    ai = ai_client(server, AI_CALL)
    alice, bob = fork_client(server, ALICE, "alice"), fork_client(server, BOB, "bob")
    for client in (ai, alice, bob):
        client.connect()
    ticker = Ticker()
    ticker.run(170, [(ai, silence), (alice, silence), (bob, silence)])  # the 3 s utterance
    ticks, frames = heard_frames(ticker.played(ai))
    assert frames == list(range(150))  # played in full
    ticker.run(40, [(ai, silence), (alice, voice), (bob, voice)])
    speech = wait_for(lambda: len(server.events("speech-started")) >= 2 and
                      server.events("speech-started"))
    assert sorted(e["speaker"] for e in speech) == ["alice", "bob"]
    assert not any(e["barge_in"] for e in speech)
    assert server.events("barge-in") == []
    assert server.metric("forkline_media_clears_total") == 0
