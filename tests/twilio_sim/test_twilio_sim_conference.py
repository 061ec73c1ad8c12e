"""The conference room (sans-I/O): start/end rules, events, and who hears whom per tick."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twilio_sim.audio import SILENCE, tone_level_dbfs, tone_ulaw, ulaw_to_pcm
from twilio_sim.conference import Room
from twilio_sim.store import Conference, Participant

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ALL = ["start", "end", "join", "leave", "mute", "hold", "modify", "speaker"]


@pytest.fixture
def room():
    conf = Conference(account_sid="AC1", friendly_name="r", status_callback="http://h/c",
                      status_callback_events=ALL)
    sent = []
    room = Room(conf, lambda c, params: params and sent.append(params))
    room.sent = sent
    room.left = {}
    return room


def join(room, sid, **flags):
    part = Participant(call_sid=sid, conference_sid=room.conf.sid, account_sid="AC1", **flags)
    room.join(part, lambda reason, sid=sid: room.left.setdefault(sid, reason), NOW)
    return part


def names(room):
    return [p["StatusCallbackEvent"] for p in room.sent]


def test_starts_with_two_when_one_starts_on_enter(room):
    join(room, "CA1", start_conference_on_enter=False)
    assert room.conf.status == "init"
    join(room, "CA2", start_conference_on_enter=False)
    assert room.conf.status == "init"
    join(room, "CA3")
    assert room.conf.status == "in-progress"
    assert names(room) == ["participant-join"] * 3 + ["conference-start"]


def test_end_on_exit_drops_everyone(room):
    join(room, "CA1", end_conference_on_exit=True, label="host")
    join(room, "CA2")
    room.leave("CA1", NOW, "participant_hung_up")
    assert room.conf.status == "completed"
    assert room.conf.reason_conference_ended == "participant-with-end-conference-on-exit-left"
    assert room.conf.call_sid_ending_conference == "CA1"
    assert room.left == {"CA1": "participant_hung_up", "CA2": "moderator_ended_conference"}
    end = room.sent[-1]
    assert end["StatusCallbackEvent"] == "conference-end"
    assert end["ParticipantLabelEndingConference"] == "host"
    assert room.conf.participants == {}


def test_last_participant_kicked(room):
    join(room, "CA1")
    join(room, "CA2")
    room.leave("CA1", NOW, "participant_updated_via_api", kicked=True)
    assert room.conf.status == "in-progress"
    room.leave("CA2", NOW, "participant_updated_via_api", kicked=True)
    assert room.conf.reason_conference_ended == "last-participant-kicked"
    leave = [p for p in room.sent if p["StatusCallbackEvent"] == "participant-leave"][0]
    assert leave["ReasonParticipantLeft"] == "participant_updated_via_api"
    assert leave["ParticipantCallStatus"] == "completed"


def test_updates_send_mute_hold_and_modify(room):
    part = join(room, "CA1")
    join(room, "CA2")
    room.update(part, {"muted": True}, NOW)
    room.update(part, {"muted": True}, NOW)  # no change, no event
    room.update(part, {"hold": True, "muted": False}, NOW)
    room.update(part, {"coaching": True, "call_sid_to_coach": "CA2"}, NOW)
    room.update(part, {"call_sid_to_coach": "CA3"}, NOW)  # not a documented modify change
    assert names(room)[3:] == ["participant-mute", "participant-unmute", "participant-hold",
                               "participant-modify"]
    assert room.sent[-1]["Coaching"] == "true"
    assert "CallSidToCoach" not in room.sent[-1], "only documented callback fields"
    room.update(part, {"end_conference_on_exit": True}, NOW)
    room.update(part, {"wait_url": ""}, NOW)
    assert names(room)[-2:] == ["participant-modify"] * 2


def level(frame_list, freq):
    # One 20 ms frame repeats, so test tones are multiples of 50 Hz (the repetition rate).
    return tone_level_dbfs(ulaw_to_pcm(b"".join(frame_list)), freq)


def run(room, voices, ticks=10):
    heard = {sid: [] for sid in room.members}
    for _ in range(ticks):
        for sid, frame in voices.items():
            room.say(sid, frame)
        room.tick(NOW)
        for sid in room.members:
            heard[sid].append(room.heard(sid))
    return heard


def test_mix_rules(room):
    a, b, c, d = (join(room, s, beep="false", hold_url="") for s in ("CA", "CB", "CC", "CD"))
    c.coaching, c.call_sid_to_coach = True, "CB"
    d.muted = True
    tones = {"CA": 500.0, "CB": 700.0, "CC": 1300.0, "CD": 1600.0}
    heard = run(room, {sid: tone_ulaw(f, 20, -20.0) for sid, f in tones.items()})
    assert level(heard["CA"], 700.0) > -30 and level(heard["CA"], 500.0) < -50
    assert level(heard["CB"], 1300.0) > -30, "the coached call hears its coach"
    assert level(heard["CA"], 1300.0) < -50 and level(heard["CD"], 1300.0) < -50
    for sid in ("CA", "CB", "CC"):
        assert level(heard[sid], 1600.0) < -50, "nobody hears the muted participant"
    assert level(heard["CD"], 500.0) > -30, "muted still hears"
    b.hold = True
    heard = run(room, {sid: tone_ulaw(f, 20, -20.0) for sid, f in tones.items()})
    assert all(frame == SILENCE for frame in heard["CB"]), "held hears nothing"
    assert level(heard["CA"], 700.0) < -50, "and is heard by no one"


def test_nothing_is_mixed_before_the_start(room):
    join(room, "CA", wait_url="")  # WaitUrl "" : silence while waiting
    heard = run(room, {"CA": tone_ulaw(500.0, 20, -20.0)})
    assert all(frame == SILENCE for frame in heard["CA"])


def test_waiting_participants_hear_hold_music_unless_wait_url_is_empty(room):
    # twiml/conference#waiturl: default is Twilio's hold music; "" plays nothing
    join(room, "CA", start_conference_on_enter=False)
    join(room, "CB", start_conference_on_enter=False, wait_url="", beep="false")
    heard = run(room, {"CA": tone_ulaw(500.0, 20, -20.0)})
    assert level(heard["CA"], 392.0) > -35, "the stand-in hold music (G4)"
    assert level(heard["CA"], 500.0) < -50, "not the conference"
    assert all(frame == SILENCE for frame in heard["CB"])
    join(room, "CC", beep="false")  # starts the conference: the music stops
    heard = run(room, {"CA": tone_ulaw(500.0, 20, -20.0)}, ticks=20)
    assert level(heard["CC"][5:], 500.0) > -30 and level(heard["CA"][15:], 392.0) < -50


def test_a_held_participant_hears_hold_music(room):
    a = join(room, "CA", beep="false")
    join(room, "CB", beep="false")
    a.hold = True
    heard = run(room, {"CB": tone_ulaw(500.0, 20, -20.0)})
    assert level(heard["CA"], 392.0) > -35 and level(heard["CA"], 500.0) < -50


@pytest.mark.parametrize(("beep", "on_join", "on_leave"), [
    ("true", True, True), ("false", False, False), ("onEnter", True, False),
    ("onExit", False, True)])
def test_beeps_on_join_and_leave_per_beep(room, beep, on_join, on_leave):
    # twiml/conference#beep
    join(room, "CA", beep="false")
    join(room, "CB", beep="false")
    join(room, "CC", beep=beep)
    heard = run(room, {}, ticks=15)
    assert (level(heard["CA"], 880.0) > -30) is on_join
    assert level(heard["CC"], 880.0) < -50, "the joiner does not hear its own beep"
    room.leave("CC", NOW, "participant_hung_up")
    heard = run(room, {}, ticks=15)
    assert (level(heard["CA"], 440.0) > -30) is on_leave


def test_lenient_rooms_play_neither_music_nor_beeps():
    from twilio_sim.strictness import Strictness

    conf = Conference(account_sid="AC1", friendly_name="quiet")
    room = Room(conf, lambda c, p: None, Strictness(lenient=frozenset({"hold-music", "beeps"})))
    room.left = {}
    join(room, "CA")
    assert all(f == SILENCE for f in run(room, {})["CA"])
    join(room, "CB")
    assert all(f == SILENCE for f in run(room, {})["CA"])


def test_speech_start_and_stop(room):
    join(room, "CA")
    join(room, "CB")
    run(room, {"CA": tone_ulaw(500.0, 20, -20.0)}, ticks=5)
    run(room, {}, ticks=20)
    speech = [p for p in room.sent if "speech" in p["StatusCallbackEvent"]]
    assert [p["StatusCallbackEvent"] for p in speech] == ["participant-speech-start",
                                                          "participant-speech-stop"]
    assert speech[0]["CallSid"] == "CA"
