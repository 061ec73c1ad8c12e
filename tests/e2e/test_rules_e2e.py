"""Issue 9's rules 3-7, each shown on Forkline (gunicorn) running against the strict simulator.

The simulator refuses, plays and ends what Twilio does (twilio_sim/README.md, "Strictness");
these tests drive the product through its admin API (or Twilio's side through the real twilio
SDK) and look at the outcome in both: /sim/calls, the SDK's resources, phones' recordings,
and Forkline's conference detail. Every wait is on an event or a condition, never a sleep.
"""
from __future__ import annotations

import io
import wave
from array import array

import pytest
from demo_api import AdminApi
from support.e2e_call import Call, ai_streams, events, joined, part

from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
TIMEOUT = 20.0
SILENT = 100  # peak |sample| (16-bit) below which a frame carries nothing (-50 dBFS)
FROM = "+15550009999"


def peak(wav_bytes: bytes) -> tuple[int, int]:
    """(frames, loudest |sample|) of an 8 kHz PCM16 WAV."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        samples = array("h", wav.readframes(wav.getnframes()))
    return len(samples) // 160, max((abs(x) for x in samples), default=0)


def app_sid(e2e) -> str:
    """The TwiML App whose Voice URL is Forkline's AI leg."""
    return e2e.client.applications.list(friendly_name="Forkline e2e AI")[0].sid


def test_rule3_a_lost_fork_is_reforked_under_a_new_name(e2e):
    """Stream names are unique per call, ended streams included (twiml/stream#name): the
    strict simulator fails a reused name at connect; Forkline's re-fork takes the next one."""
    call = Call(e2e, "e2e-refork", "+15550301001", "+15550301002")
    try:
        call.create()
        d = call.until(lambda d: joined("customer")(d) and joined("agent")(d), "the humans")
        customer = part(d, "customer")["call_sid"]

        def fork(name):
            return next((s for s in call.sim_call(customer)["streams"].values()
                         if s["name"] == name), None)
        first = wait_for(lambda: fork("fork-customer-1"), TIMEOUT, 0.05, message="the fork")
        call.until(lambda d: {s["stream_sid"]: s for s in d["streams"]}.get(
            first["sid"], {}).get("status") == "started", "Forkline to take the fork")
        e2e.sim.stream_fault(first["sid"], "kill")
        second = wait_for(lambda: fork("fork-customer-2"), TIMEOUT, 0.05, message="a re-fork")
        d = call.until(lambda d: {s["stream_sid"]: s for s in d["streams"]}.get(
            second["sid"], {}).get("status") == "started", "the re-fork to connect")
        streams = call.sim_call(customer)["streams"]
        assert [s["name"] for s in streams.values()] == ["fork-customer-1", "fork-customer-2"]
        assert "31924" in (streams[first["sid"]]["error"] or "")
        assert streams[second["sid"]]["error"] is None  # the new name was not refused (20001)
        names = {s["stream_sid"]: s["name"] for s in d["streams"] if s["call_sid"] == customer}
        assert names == {first["sid"]: "fork-customer-1", second["sid"]: "fork-customer-2"}
    finally:
        call.end()


def test_rule4_the_ai_waits_for_the_humans_in_silence(e2e):
    """A participant waiting for the conference to start hears hold music unless its WaitUrl
    is "" (conference-participant-resource): what the AI heard (Forkline's own recording of
    its inbound audio) is silence, never music its VAD and STT would take for sound."""
    key = e2e.stack.flask("tenants", "create", "e2e-rec", "--recording").strip().splitlines()[-1]
    call = Call(e2e, "e2e-wait", "+15550302001", "+15550302002",
                api=AdminApi(e2e.stack.forkline_url, key))
    for number in call.phones.values():
        e2e.sim.answer_mode(number, "answer", ring_seconds=600)  # the humans never answer
    try:
        call.create(ai={"agent": "default", "mode": "speak"})
        d = call.until(joined("ai"), "the AI to join the waiting conference")
        ai_sid = part(d, "ai")["call_sid"]
        sid = call.ai_started(ai_sid, "ai-1")["StreamSid"]
        wait_for(lambda: call.sim_call(ai_sid)["streams"][sid]["media_sent"] >= 150, TIMEOUT,
                 0.05, message="3 s of waiting audio on the AI's stream")
        assert not any(joined(label)(call.detail()) for label in call.phones)
        call.api.call("POST", f"/api/conferences/{call.name}/end", ok=(200,))
        received = call.stream_audio([sid])[sid]["received"]
        (path,) = e2e.stack.recordings_dir.glob(f"t*-{call.name}/mix.wav")
        frames, loudest = peak(path.read_bytes())
        assert frames == received >= 150
        assert loudest < SILENT, loudest  # no hold music, no beep
    finally:
        call.end()


def test_rule5_when_the_humans_hang_up_the_ai_and_the_conference_end(e2e):
    """Nobody has EndConferenceOnExit; Forkline (end_when_humans_leave, on by default) takes
    the AI out and ends the conference when its last human leaves."""
    call = Call(e2e, "e2e-humans-leave", "+15550303001", "+15550303002")
    try:
        ai_sid, conf_sid, _ = call.humans_and_speaking_ai()
        for number in call.phones.values():
            e2e.sim.hangup(number)
        d = call.until(lambda d: d["status"] == "completed", "Forkline to end the conference")
        assert events(d, "humans-left") and part(d, "ai")["status"] == "left"
        wait_for(lambda: e2e.client.conferences(conf_sid).fetch().status == "completed",
                 TIMEOUT, 0.05, message="the simulator's conference to end")
        assert call.sim_call(ai_sid)["status"] == "completed"
        assert not events(d, "ai-redialed")  # asked to leave: not an incident
    finally:
        call.end()


def test_rule6_a_refused_ai_leg_hangs_up_without_a_word(e2e):
    """An `app:` leg's far end is the conference: a 400 from Forkline would make Twilio play
    its application-error message to everyone in it. Forkline answers <Hangup/> only."""
    phone = "+15550304001"
    e2e.sim.record(phone, "start")
    room = e2e.client.conferences("e2e-rule6").participants
    human = room.create(from_=FROM, to=phone, beep="false", wait_url="")
    conf_sid = human.conference_sid
    try:
        wait_for(lambda: e2e.client.conferences(conf_sid).participants(human.call_sid).fetch()
                 .status == "connected", TIMEOUT, 0.05, message="the phone to join")
        # No token and a CallSid Forkline never dialed: the AI Voice URL refuses it.
        ai = e2e.client.conferences(conf_sid).participants.create(
            from_=FROM, to=f"app:{app_sid(e2e)}?conference=nope", beep="false", wait_url="")
        ended = wait_for(lambda: (c := next(c for c in e2e.sim.calls() if c["sid"]
                                            == ai.call_sid))["status"] == "completed" and c,
                         TIMEOUT, 0.05, message="the refused AI leg to hang up")
        heard = next(p["frames_heard"] for p in e2e.sim.phones() if p["number"] == phone)
        wait_for(lambda: next(p["frames_heard"] for p in e2e.sim.phones()
                              if p["number"] == phone) >= heard + 25, TIMEOUT, 0.05,
                 message="the phone to hear past the AI leg's end")
        frames, loudest = peak(e2e.sim.recording_wav(phone))
        assert frames > 25 and loudest < SILENT, loudest  # not a word reached the conference
        assert ended["error"] is None  # a clean <Hangup/>, not a failed fetch
    finally:
        e2e.sim.hangup(phone)


def test_rule7_labels_twilio_refuses_never_reach_it(e2e):
    """Labels shaped like a CallSid, with '/', or over 128 characters are 422 per field; a
    label Twilio already has (16026 over REST) is a 409, and nothing is half-written."""
    call = Call(e2e, "e2e-labels", "+15550305001", "+15550305002")
    try:
        call.create()
        d = call.until(lambda d: joined("customer")(d) and joined("agent")(d), "the humans")
        dialed = len(e2e.sim.calls())
        path = f"/api/conferences/{call.name}/participants"
        for bad in ("CA" + "d" * 32, "a/b", "x" * 129):
            body = call.api.call("POST", path, {"to": "+15550305003", "role": "agent",
                                                "label": bad}, ok=(422,))
            assert "label" in body["error"]["fields"], body
        assert len(e2e.sim.calls()) == dialed  # none of them was dialed
        # Someone added "extra" at Twilio directly: Twilio refuses a second one with 16026.
        e2e.client.conferences(d["twilio_sid"]).participants.create(
            from_=FROM, to="+15550305004", label="extra", beep="false")
        body = call.api.call("POST", path, {"to": "+15550305005", "role": "agent",
                                            "label": "extra"}, ok=(409,))
        assert body["error"]["code"] == "duplicate_label", body
        assert part(call.detail(), "extra") == {}
    finally:
        call.end()


def test_rule7_a_stream_failing_at_connect_is_an_error_and_the_ai_carries_on(e2e):
    """A stream that cannot connect shows its error in /sim/calls; its <Connect> ends, the
    action URL runs, and Forkline answers the next stream (a new name each time)."""
    call = Call(e2e, "e2e-stream-error", "+15550306001", "+15550306002")
    try:
        ai_sid, _, first = call.humans_and_speaking_ai()
        e2e.sim.fail_streams(ai_sid, 31920, 1)
        e2e.sim.stream_fault(first, "kill")
        third = call.ai_started(ai_sid, "ai-3")["StreamSid"]
        streams = call.sim_call(ai_sid)["streams"]
        assert [s["name"] for s in streams.values()] == ["ai-1", "ai-2", "ai-3"]
        failed = next(s for s in streams.values() if s["name"] == "ai-2")
        assert failed["error"].startswith("31920") and failed["media_sent"] == 0
        d = call.until(lambda d: ai_streams(d).get(third, {}).get("status") == "started",
                       "Forkline to take ai-3")
        assert [e["payload"].get("StreamError", "")[:5] for e in events(d, "stream-error")
                if e["call_sid"] == ai_sid] in (["31924", "31920"], ["31920", "31924"])
        assert joined("ai", call_sid=ai_sid)(d) and not events(d, "ai-redialed")
        humans = {label: part(d, label)["status"] for label in call.phones}
        assert humans == {"customer": "joined", "agent": "joined"}  # nobody was hung up
    finally:
        call.end()


def test_whisper_switch_while_the_target_is_put_on_hold_is_pending_not_502(e2e):
    """The agent is put on hold at Twilio just as the operator asks the AI to coach it:
    whichever comes first (the participant-hold callback, or Twilio's 16027 refusal of the
    switch), the API answers 200 with a pending whisper and the AI stays muted at Twilio, so
    it never speaks to the customer (errors/16027; no 502, nobody hung up)."""
    call = Call(e2e, "e2e-whisper-hold", "+15550307001", "+15550307002")
    try:
        ai_sid, conf_sid, _ = call.humans_and_speaking_ai()
        agent = part(call.detail(), "agent")["call_sid"]
        e2e.client.conferences(conf_sid).participants(agent).update(hold=True)
        body = call.api.call("PUT", f"/api/conferences/{call.name}/ai",
                             {"agent": "default", "mode": "whisper", "coach": "agent"})
        assert (body["mode"], body["pending_coach"], body["muted"]) == ("whisper", True, True)
        sim_ai = e2e.client.conferences(conf_sid).participants(ai_sid).fetch()
        assert (sim_ai.muted, sim_ai.coaching) == (True, False)
        d = call.detail()
        assert (d["ai"]["mode"], d["ai"]["pending_coach"]) == ("whisper", True)
        assert {label: part(d, label)["status"] for label in call.phones} == \
            {"customer": "joined", "agent": "joined"}
    finally:
        call.end()



# The app -> caller latency the simulator adds (to_caller_ms), clear included: twice the
# tracker's ECHO_SLACK (100 ms), so only the clear's confirmation by the echo of its pending
# marks (conference/media/clearwatch.py) can get the cut right.
EAR_DELAY_MS = 200
# Played audio is whole 20 ms ticks: the clear lands on a tick, and a mark is echoed on the
# tick after its last frame, so the two accounts may differ by up to two frames.
CUT_BOUND_MS = 40


def test_rule7_a_barge_in_is_cut_where_the_caller_was_despite_outbound_latency(e2e):
    """Twilio plays the app's audio (and applies its clear) some time after it was sent, and
    echoes a mark once its audio has played (websocket-messages#mark-message): the truncation
    Forkline reports for a barge-in is what the simulator actually played into the call,
    the audio still on its way when the clear was sent included."""
    call = Call(e2e, "e2e-ear-delay", "+15550309001", "+15550309002")
    try:
        ai_sid, _, sid = call.humans_and_speaking_ai()

        def stream():
            return call.sim_call(ai_sid)["streams"][sid]
        fault = e2e.sim.stream_fault(sid, "delay", to_caller_ms=EAR_DELAY_MS)
        assert fault["to_caller_ms"] == EAR_DELAY_MS
        start = stream()["played_ms"]
        wait_for(lambda: stream()["played_ms"] >= start + 2000, TIMEOUT, 0.05,
                 message="2 s of the AI's answer played under the delay")
        call.api.call("PUT", f"/api/conferences/{call.name}/ai",
                      {"agent": "default", "mode": "listen"}, ok=(200,))
        d = call.until(lambda d: events(d, "barge-in"), "the barge-in")
        (cut,) = [e["payload"] for e in events(d, "barge-in")]
        played = wait_for(lambda: (s := stream())["clears"] >= 1 and s, TIMEOUT, 0.05,
                          message="the clear to reach the caller's side")["played_ms"]
        assert cut["item_id"] == "echo-1"  # the echo's one answer, played from its start
        assert abs(cut["heard_ms"] - played) <= CUT_BOUND_MS, (cut, played)
    finally:
        call.end()
