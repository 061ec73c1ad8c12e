"""Playout tracker at steady state against an emulated Twilio playout (simulated clock): an
exactly real-time source queues nothing while the mark round trip fits in the lead; past it
the lead bounds starve the playout, and the queue is exactly the playout time lost."""
from __future__ import annotations

import pytest

from conference.media.playout import FRAME, PER_MS, PlayoutTracker
from tests.support.twilio_playout import TwilioPlayout


def tracker() -> PlayoutTracker:
    return PlayoutTracker(lead_ms=300, mark_interval_ms=200, chunk_ms=100)  # app.py defaults


@pytest.mark.parametrize("round_trip_ms", [0, 40, 100, 200, 300])
def test_a_round_trip_within_the_lead_queues_nothing(round_trip_ms):
    twilio = TwilioPlayout(tracker(), round_trip_ms / 2)
    twilio.run(14.0)
    assert twilio.starved_ms == 0
    assert twilio.pending_ms() <= FRAME / PER_MS  # at most the frame pushed this tick


@pytest.mark.parametrize("round_trip_ms", [500, 600, 800])
def test_a_longer_round_trip_starves_playout_and_queues_the_time_lost(round_trip_ms):
    tr = tracker()
    twilio = TwilioPlayout(tr, round_trip_ms / 2)
    end = twilio.run(14.0)
    assert twilio.max_unacked <= tr.hard_lead  # the bounds hold ...
    assert twilio.pending_ms() > 1000  # ... so audio waits although Twilio ran dry
    # Nothing was over-produced: the backlog is the silence Twilio played, less what was in
    # flight or buffered at the end (an echo source never catches up on lost time).
    lost, one_way = twilio.lost_ms(end), round_trip_ms / 2
    assert lost - tr.lead / PER_MS - one_way <= twilio.pending_ms() <= lost + one_way + 20
