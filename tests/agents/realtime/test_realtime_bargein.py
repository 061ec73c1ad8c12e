"""Barge-in in two steps against the Realtime fake: cancel at the decision, truncate at the
position Twilio's flushed marks confirm (the marks are driven by hand, so no timing is assumed)."""
from __future__ import annotations

from agents.base import AudioOut, ResponseDone
from tests.support.barge_call import Call, speaking
from tests.support.sessions import pull_until, speak, utterance


def talking(fake, make_session):
    """A session whose response is still streaming, with 200 ms of item audio generated."""
    fake.delta_interval_s = 0.05  # 100 ms chunks every 50 ms: still talking at the barge-in
    session = make_session()
    speak(session, utterance())
    item = pull_until(session, AudioOut)[-1].item_id
    pull_until(session, AudioOut)
    return session, item


def test_cancel_goes_out_before_the_marks_and_truncate_carries_the_acknowledged_position(
        fake, make_session):
    session, item = talking(fake, make_session)
    call = Call(session)
    speaking(call, item_id=item)
    assert call.barge_in("backend", 150)
    # The clear's marks are unacknowledged, yet the model is already told to stop.
    assert fake.wait_for(lambda: fake.received("response.cancel"))
    assert call.clear_watch is not None and not fake.received("conversation.item.truncate")
    assert pull_until(session, ResponseDone)[-1] == ResponseDone(item, "cancelled")
    call.on_old_mark("g1-s1", 160)  # played before the clear arrived
    call.on_old_mark("g1-s2", 190)  # flushed: the clear was applied at 190 ms
    assert fake.wait_for(lambda: fake.truncations)
    assert fake.truncations == [(item, 190)]
    types = [e["type"] for e in fake.events_received]
    assert types.count("response.cancel") == 1
    assert types.index("response.cancel") < types.index("conversation.item.truncate")
    assert not fake.sent("error") and call.failures == []


def test_an_unconfirmed_clear_truncates_at_the_estimate(fake, make_session):
    session, item = talking(fake, make_session)
    call = Call(session)
    speaking(call, item_id=item)
    call.barge_in("fork", 150)
    assert fake.wait_for(lambda: fake.received("response.cancel"))
    call.settle_clear(650)  # no echo within 500 ms
    assert fake.wait_for(lambda: fake.truncations)
    assert fake.truncations == [(item, 150)]


def test_a_cancel_the_server_rejects_leaves_the_session_working(fake, make_session):
    session, item = talking(fake, make_session)
    pull_until(session, ResponseDone)  # the reply finished: nothing is active any more
    session.protocol.active_response = "resp_gone"  # ...but the cancel races its response.done
    call = Call(session)
    speaking(call, item_id=item)
    call.barge_in("backend", 150)
    assert fake.wait_for(lambda: fake.received("response.cancel"))
    call.on_old_mark("g1-s2", 190)
    assert fake.wait_for(lambda: fake.truncations)
    speak(session, utterance())  # and the conversation goes on
    assert pull_until(session, ResponseDone)[-1].status == "completed"
    assert call.failures == [] and session.protocol.harmless_errors >= 1
