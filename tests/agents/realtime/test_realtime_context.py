"""Reconnect context: unanswered-audio ring and transcript turns cut to what was heard."""
from __future__ import annotations

import base64

from agents.base import AgentProfile
from agents.realtime.context import ReplayRing, TurnLog
from agents.realtime.protocol import RealtimeProtocol
from tests.support.realtime_events import delta, ready


def test_ring_forgets_audio_only_once_answered():
    ring = ReplayRing(max_ms=1000)
    ring.add(b"\x01" * 800)  # 0-100 ms
    ring.speech_ended(100)
    ring.add(b"\x02" * 400)  # 100-150 ms, after the turn closed
    assert ring.take() == b"\x01" * 800 + b"\x02" * 400  # no response yet: keep it all
    ring.add(b"\x01" * 800)
    ring.speech_ended(100)
    ring.add(b"\x02" * 400)
    ring.answered()
    assert ring.take() == b"\x02" * 400


def test_turns_keep_order_and_cut_ai_text_to_heard_share():
    log = TurnLog(max_turns=3)
    log.caller("hi", "u1")
    log.ai_done("a1", "one two three four")
    log.heard("a1", 0.5)
    assert list(log) == [("caller", "hi"), ("ai", "one two …")]
    log.ai_delta("a2", "alpha beta ")
    log.ai_delta("a2", "gamma delta")
    log.heard("a2", 0.25)
    log.ai_done("a2", "alpha beta gamma delta epsilon")  # late full text is ignored
    assert list(log)[-1] == ("ai", "alpha …")
    log.ai_done("a3", "x")
    assert len(list(log)) == 3


def test_barge_in_before_any_word_drops_the_ai_turn():
    log = TurnLog()
    log.ai_done("a1", "hello there")
    log.heard("a1", 0.0)
    assert list(log) == []


def test_protocol_replays_the_cut_ai_turn_after_reconnect():
    proto = RealtimeProtocol(AgentProfile())
    ready(proto)
    proto.on_event({"type": "response.created", "response": {"id": "r1"}})
    proto.on_event(delta("r1", "i1", 8000))  # 1 s generated
    proto.on_event({"type": "response.output_audio_transcript.done", "item_id": "i1",
                    "transcript": "We open at nine and close at five today"})
    proto.stop()
    proto.truncate(heard_ms=500, item_id="i1")
    sends = ready(proto).sends
    (item,) = [s["item"] for s in sends if s["type"] == "conversation.item.create"]
    assert item["role"] == "assistant"
    assert item["content"][0]["text"] == "We open at nine …"
    assert not [s for s in sends if s["type"] == "input_audio_buffer.append"
                and base64.b64decode(s["audio"])]
