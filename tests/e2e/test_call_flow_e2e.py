"""Issue 9's end-to-end acceptance: Forkline (gunicorn) against the strict Twilio simulator.

The AI is the echo backend (tests/support/e2e_call.py): a 2 kHz tone a phone plays comes back
as the AI's voice, so where that tone is (or is not) heard says who hears the AI.
"""
from __future__ import annotations

import pytest
from support.e2e_call import (
    ABSENT,
    FREQ,
    Call,
    ai_streams,
    dial_params,
    events,
    heard_frames,
    joined,
    part,
)

from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
TIMEOUT = 20.0


def test_whisper_requested_while_the_agent_rings_coaches_the_agent_once_joined(e2e):
    call = Call(e2e, "e2e-whisper", "+15550201001", "+15550201002")
    e2e.sim.answer_mode(call.phones["agent"], "answer", ring_seconds=4)
    try:
        created = call.create(ai={"agent": "default", "mode": "whisper", "coach": "agent"})
        assert (created["ai"]["mode"], created["ai"]["pending_coach"]) == ("whisper", True)

        # The AI joins while the agent still rings: muted, not coaching, waiting for its target.
        d = call.until(joined("ai"), "the AI to join")
        assert part(d, "agent").get("status") != "joined"
        ai = part(d, "ai")
        assert (ai["mode"], ai["muted"], ai["coaching"], ai["pending_coach"]) == \
            ("whisper", True, False, True)

        # The agent answers; its participant-join switches the AI to coaching it.
        d = call.until(joined("ai", coaching=True), "the AI to coach the agent")
        ai, agent = part(d, "ai"), part(d, "agent")
        assert agent["status"] == "joined"
        assert (ai["muted"], ai["pending_coach"], d["ai"]["pending_coach"]) == (False, False, False)
        assert [e["payload"].get("coach") for e in events(d, "coach-started")] == ["agent"]
        assert events(d, "coach-refused") == []
        sim_ai = e2e.client.conferences(d["twilio_sid"]).participants(ai["call_sid"]).fetch()
        assert (sim_ai.coaching, sim_ai.muted) == (True, False)
        assert sim_ai.call_sid_to_coach == agent["call_sid"]
        call.ai_started(ai["call_sid"], "ai-1")

        # The customer plays the tone: the AI says it back, to the agent only.
        at = {label: call.frames(label) for label in call.phones}
        seconds = e2e.sim.tone(call.phones["customer"], FREQ, 1500)["seconds"]
        played = round(seconds * 50)
        call.wait_heard("agent", at["agent"] + played + 50)
        call.wait_heard("customer", at["customer"] + played + 50)
        agent_heard = heard_frames(call.levels("agent"), at["agent"])
        # Directly, the agent hears `played` frames; the AI's echo comes later and lasts longer.
        assert agent_heard and agent_heard[-1] - agent_heard[0] + 1 > played, agent_heard
        customer = call.levels("customer")
        assert len(customer) >= at["customer"] + played + 50
        assert max(customer) < ABSENT  # from her first ring to now: never the AI's voice
    finally:
        call.end()


def test_killed_ai_socket_comes_back_through_the_connect_action(e2e):
    """The socket dies mid-answer; the <Connect action> opens ai-2 on the same call.

    "No inbound audio lost", stated as strongly as it is true: every frame the simulator put on
    either socket reached Forkline, went into one replay ring (ai-2 starts at the index where
    ai-1 ended) and was handed to the backend (`fed` = end: nothing left to replay). What the
    AI did not hear is what Twilio never sent: frames queued but cut by the kill, and frames of
    the conference heard while no socket was open (the simulator counts both, like Twilio it
    buffers none of them). Together they stay under 2 s of 20 ms frames on the simulator's
    clock. No sleeps: every step waits on an event.
    """
    call = Call(e2e, "e2e-kill", "+15550202001", "+15550202002")
    try:
        ai_sid, conf_sid, first = call.humans_and_speaking_ai()
        at = call.frames("customer")
        seconds = e2e.sim.tone(call.phones["customer"], FREQ, 6000)["seconds"]
        played = round(seconds * 50)
        # Mid-answer: the customer hears the AI saying her tone back, then its socket dies.
        wait_for(lambda: len(heard_frames(call.levels("customer"), at)) >= 25, TIMEOUT, 0.05,
                 message="the AI's echo at the customer")
        before = call.sim_call(ai_sid)
        e2e.sim.stream_fault(first, "kill")
        killed_at = call.frames("customer")
        second = call.ai_started(ai_sid, "ai-2")["StreamSid"]
        resumed_at = call.frames("customer")
        assert second != first
        assert resumed_at < at + played - 50, "the reconnect took most of the tone"
        call.wait_heard("customer", at + played + 25)
        after = call.sim_call(ai_sid)

        levels = call.levels("customer")
        assert heard_frames(levels, at, killed_at)  # before the kill
        # ... and again on the new stream: the AI carries on saying it back.
        assert len(heard_frames(levels, resumed_at, at + played)) > 25

        sent = [c["params"] for c in e2e.sim.callbacks()]
        error = next(p for p in sent if p.get("StreamSid") == first
                     and p.get("StreamEvent") == "stream-error")
        assert "31924" in error.get("StreamError", "")
        old = after["streams"][first]
        cut = old["media_queued"] - old["media_sent"]  # queued at Twilio, never written
        unstreamed = after["frames_unstreamed"] - before["frames_unstreamed"]
        assert cut >= 0 and unstreamed > 0 and cut + unstreamed < 100, (cut, unstreamed)
        # No Calls update: on the simulator that takes the AI out (participant-leave).
        assert not [p for p in sent if p.get("CallSid") == ai_sid
                    and p.get("StatusCallbackEvent") == "participant-leave"]
        assert (after["status"], after["conference_sid"]) == ("in-progress", conf_sid)
        assert [s["name"] for s in after["streams"].values()] == ["ai-1", "ai-2"]
        member = e2e.client.conferences(conf_sid).participants(ai_sid).fetch()
        assert (member.call_sid, member.status) == (ai_sid, "connected")

        d = call.detail()
        assert joined("ai", call_sid=ai_sid)(d) and d["twilio_sid"] == conf_sid
        assert [p["label"] for p in d["participants"] if p["role"] == "ai"] == ["ai"]
        assert events(d, "ai-connect-action") and not events(d, "ai-redialed")
        d = call.until(lambda d: ai_streams(d).get(second, {}).get("status") == "started",
                       "Forkline to record the new stream")
        streams = ai_streams(d)
        assert {sid: s["name"] for sid, s in streams.items()} == {first: "ai-1", second: "ai-2"}
        assert {s["call_sid"] for s in streams.values()} == {ai_sid}
        assert streams[first]["status"] != "started"

        # The end of the call closes ai-2 with `stop` after all its media: now count it all.
        e2e.api.call("POST", f"/api/conferences/{call.name}/end", ok=(200,))
        audio = call.stream_audio([first, second])
        final = wait_for(lambda: (c := call.sim_call(ai_sid))["streams"][second]["status"]
                         == "stopped" and c, TIMEOUT, 0.05, message="ai-2 to stop")["streams"]
        for sid in (first, second):
            assert audio[sid]["received"] == final[sid]["media_sent"], (sid, audio, final)
            assert audio[sid]["fed"] == audio[sid]["end_index"]  # all of it reached the backend
        assert audio[first]["first_index"] == 0
        assert audio[second]["first_index"] == audio[first]["end_index"]  # one ring, no gap
        assert audio[second]["end_index"] - audio[first]["first_index"] == \
            final[first]["media_sent"] + final[second]["media_sent"]
    finally:
        call.end()


def test_ai_removed_by_twilio_is_redialed_once_and_continues(e2e):
    call = Call(e2e, "e2e-redial", "+15550203001", "+15550203002")
    try:
        old_sid, conf_sid, _ = call.humans_and_speaking_ai()

        # Twilio's side (the simulator's Participants API), not Forkline, removes the AI.
        e2e.client.conferences(conf_sid).participants(old_sid).delete()
        d = call.until(lambda d: d["ai"]["call_sid"] != old_sid and d["ai"]["present"]
                       and d["ai"]["status"] == "joined", "the AI to be re-dialed")
        new_sid = d["ai"]["call_sid"]
        assert new_sid.startswith("CA") and new_sid != old_sid
        call.ai_started(new_sid, "ai-1")
        calls = {c["sid"]: c for c in e2e.sim.calls()}
        assert calls[old_sid]["status"] == "completed"
        assert (calls[new_sid]["status"], calls[new_sid]["conference_sid"]) == \
            ("in-progress", conf_sid)
        members = e2e.client.conferences(conf_sid).participants.list()
        assert new_sid in {m.call_sid for m in members} and old_sid not in \
            {m.call_sid for m in members}
        # A new app: participant that names the call whose conversation it carries on.
        old_to, new_to = dial_params(calls[old_sid]), dial_params(calls[new_sid])
        assert new_to.get("continues") == old_sid and "continues" not in old_to
        assert {sid for sid, c in calls.items()
                if dial_params(c).get("conference") == old_to["conference"]} == {old_sid, new_sid}

        # It continues: the customer's tone comes back from the new AI.
        at = call.frames("customer")
        seconds = e2e.sim.tone(call.phones["customer"], FREQ, 1500)["seconds"]
        call.wait_heard("customer", at + round(seconds * 50) + 25)
        assert len(heard_frames(call.levels("customer"), at)) > 25

        d = call.detail()
        assert len(events(d, "ai-redialed")) == 1  # once
        assert events(d, "ai-redial-failed") == []
        assert [(p["call_sid"], p["status"]) for p in d["participants"] if p["role"] == "ai"] \
            == [(new_sid, "joined")]  # the AI's row, now on the new call
    finally:
        call.end()
