"""The REST fake (tests/twilio_fake.py) and the simulator agree on every rule both implement.

The same scenario runs through the real twilio SDK against each; only how a participant's
call gets answered differs (the fake is told, the simulator's phone answers).
"""
from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio_fake import FakeTwilio

from twilio_sim.testing import sdk_client, wait_for

pytestmark = pytest.mark.slow


class FakeSide:
    """Drives tests/twilio_fake.py."""

    def __init__(self, sim_server):
        self.fake = FakeTwilio(sim_server.account_sid, sim_server.auth_token).start()
        self.client = sdk_client(self.fake.url, sim_server.account_sid, sim_server.auth_token)

    def hold_ringing(self, number: str) -> None:
        """Fake participants ring until join() anyway."""

    def answer(self, cf: str, *call_sids: str) -> None:
        for sid in call_sids:
            self.fake.join(sid)

    def labels(self, cf: str) -> set:
        return {p["label"] for p in self.fake.participants.values()
                if p["conference_sid"] == cf}

    def status(self, cf: str) -> str:
        return self.fake.conferences[cf]["status"]

    def close(self) -> None:
        assert self.fake.violations == []
        self.fake.stop()


class SimSide:
    """Drives the simulator subprocess."""

    def __init__(self, sim_server):
        self.sim = sim_server
        self.client = sim_server.client()

    def hold_ringing(self, number: str) -> None:
        self.sim.control.answer_mode(number, ring_seconds=30)

    def answer(self, cf: str, *call_sids: str) -> None:
        wait_for(lambda: {p.call_sid for p in self.client.conferences(cf).participants.list()
                          if p.status == "connected"} >= set(call_sids), 10)

    def labels(self, cf: str) -> set:
        return {p.label for p in self.client.conferences(cf).participants.list()}

    def status(self, cf: str) -> str:
        return self.client.conferences(cf).fetch().status

    def close(self) -> None:
        pass


@pytest.fixture(params=["fake", "sim"])
def side(request, sim_server):
    made = FakeSide(sim_server) if request.param == "fake" else SimSide(sim_server)
    yield made
    made.close()


def refused(call) -> int:
    """The Twilio error code of a refused SDK call."""
    with pytest.raises(TwilioRestException) as err:
        call()
    return err.value.code


def test_coaching_labels_redirect_and_conference_end(side):
    n = 1 if isinstance(side, SimSide) else 0
    num = f"+1555071{n}00"
    room = side.client.conferences(f"agree-room-{n}").participants
    side.hold_ringing(num + "2")
    customer = room.create(from_="+15550710000", to=num + "1", label="customer")
    cf = customer.conference_sid
    parts = side.client.conferences(cf).participants
    agent = parts.create(from_="+15550710000", to=num + "2", label="agent",
                         end_conference_on_exit=True)
    # 13240: the coached call is not connected to an in-progress conference yet
    assert refused(lambda: parts.create(from_="+15550710000", to=num + "3", coaching=True,
                                        call_sid_to_coach=agent.call_sid)) == 13240
    assert refused(lambda: parts.create(from_="+15550710000", to=num + "3",
                                        label="agent")) == 16026
    for bad in ("CA" + "d" * 32, "a/b", "x" * 129):
        assert refused(lambda bad=bad: parts.create(from_="+15550710000", to=num + "3",
                                                    label=bad)) == 20001
    side.answer(cf, customer.call_sid)
    sup = parts.create(from_="+15550710000", to=num + "4", label="sup", muted=True)
    side.answer(cf, sup.call_sid)
    assert side.status(cf) == "in-progress"
    assert refused(lambda: parts("sup").update(coaching=True,
                                               call_sid_to_coach=agent.call_sid)) == 13240
    coach = parts("sup").update(coaching=True, call_sid_to_coach=customer.call_sid)
    assert coach.coaching and coach.call_sid_to_coach == customer.call_sid
    parts("customer").update(hold=True)
    assert refused(lambda: parts("sup").update(call_sid_to_coach=customer.call_sid)) == 16027
    side.client.calls(sup.call_sid).update(twiml="<Response><Pause length=\"30\"/></Response>")
    wait_for(lambda: "sup" not in side.labels(cf), 10)  # new TwiML: out of the conference
    assert parts("agent").delete() is True  # never joined: its EndConferenceOnExit ends nothing
    assert side.status(cf) == "in-progress"
    assert parts("customer").delete() is True  # the last one: the conference ends
    wait_for(lambda: side.status(cf) == "completed", 10)
    side.client.calls(sup.call_sid).update(status="completed")


def test_stream_names_are_unique_per_call_even_after_stop(side, sim_server, webhooks):
    if isinstance(side, FakeSide):
        call_sid = "CA" + "e" * 32
        side.fake.add_call(call_sid)
    else:
        webhooks.routes["/pause"] = '<Response><Pause length="60"/></Response>'
        call_sid = sim_server.control.inbound_call("+15550719001", "+15550719000",
                                                   webhooks.url("/pause"))["sid"]
        wait_for(lambda: side.client.calls(call_sid).fetch().status == "in-progress", 10)
    streams = side.client.calls(call_sid).streams
    first = streams.create(url="wss://127.0.0.1:9/fork", name="fork-agent")
    side.client.calls(call_sid).streams(first.sid).update(status="stopped")
    assert refused(lambda: streams.create(url="wss://127.0.0.1:9/fork",
                                          name="fork-agent")) == 20001
    assert streams.create(url="wss://127.0.0.1:9/fork", name="fork-agent-2").name == \
        "fork-agent-2"
    side.client.calls(call_sid).update(status="completed")


def test_end_conference_on_exit_and_coaching_off(side):
    """A joined participant with EndConferenceOnExit ends the conference for everyone
    (twiml/conference#endconferenceonexit); Coaching=false drops CallSidToCoach, and a
    coach may only be set while the target is connected (conference-participant-resource)."""
    n = 1 if isinstance(side, SimSide) else 0
    num = f"+1555072{n}00"
    room = side.client.conferences(f"agree-exit-{n}").participants
    customer = room.create(from_="+15550720000", to=num + "1", label="customer")
    cf = customer.conference_sid
    parts = side.client.conferences(cf).participants
    agent = parts.create(from_="+15550720000", to=num + "2", label="agent",
                         end_conference_on_exit=True)
    whisper = parts.create(from_="+15550720000", to=num + "3", label="whisper", muted=True)
    side.answer(cf, customer.call_sid, agent.call_sid, whisper.call_sid)
    assert side.status(cf) == "in-progress"
    coached = parts("whisper").update(coaching=True, call_sid_to_coach=agent.call_sid)
    assert (coached.coaching, coached.call_sid_to_coach) == (True, agent.call_sid)
    off = parts("whisper").update(coaching=False)
    assert (off.coaching, off.call_sid_to_coach) == (False, None)
    assert parts("agent").delete() is True  # joined, EndConferenceOnExit: everyone is out
    wait_for(lambda: side.status(cf) == "completed", 10)
    wait_for(lambda: side.labels(cf) == set(), 10)
