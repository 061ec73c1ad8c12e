"""Conference engine: membership, start/end rules, 20 ms mixing and status callbacks."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from . import callbacks, tones
from .audio import SILENCE, ulaw_dbfs
from .mixer import MixLeg, mix
from .store import Conference, Participant, rfc2822
from .strictness import Strictness

SPEECH_DBFS = -45.0  # a frame louder than this counts as speech
SPEECH_HANGOVER_TICKS = 15  # 300 ms of quiet ends a speech burst


@dataclass
class Member:
    """One participant's place in the mix."""

    part: Participant
    on_leave: Callable[[str], None]  # called with ReasonParticipantLeft
    said: bytes = SILENCE
    heard: bytes = SILENCE
    speaking: bool = False
    quiet_ticks: int = 0
    left: bool = field(default=False)
    music_index: int = 0
    beeps: deque = field(default_factory=deque)  # beep frames still to play to this member


class Room:
    """A live conference; Emit receives (conference, callback params or None)."""

    def __init__(self, conf: Conference, emit: Callable[[Conference, dict | None], None],
                 strictness: Strictness | None = None):
        self.conf = conf
        self.emit = emit
        self.strictness = strictness or Strictness()
        self.members: dict[str, Member] = {}

    @property
    def started(self) -> bool:
        """True once the conference is in progress."""
        return self.conf.status == "in-progress"

    def _event(self, name: str, now: datetime, part=None, **extra) -> None:
        self.emit(self.conf, callbacks.conference_event(self.conf, name, now, part, **extra))

    def join(self, part: Participant, on_leave: Callable[[str], None], now: datetime) -> None:
        """Admit a participant (status connected) and apply the start rule."""
        part.status = "connected"
        part.date_updated = rfc2822(now)
        self.conf.participants[part.call_sid] = part
        self.members[part.call_sid] = Member(part, on_leave)
        self._event("participant-join", now, part)
        if part.beep in ("true", "onEnter"):
            self._beep(part.call_sid, entering=True)
        enough = len(self.members) >= 2
        if not self.started and enough and any(
                m.part.start_conference_on_enter for m in self.members.values()):
            self.conf.status = "in-progress"
            self.conf.date_updated = rfc2822(now)
            self._event("conference-start", now)

    def leave(self, call_sid: str, now: datetime, reason: str, kicked: bool = False,
              call_status: str = "completed") -> None:
        """Remove a participant; end the conference when the end rules say so."""
        member = self.members.pop(call_sid, None)
        if member is None:
            return
        member.left = True
        part = member.part
        part.status = "complete"
        self.conf.participants.pop(call_sid, None)
        self._event("participant-leave", now, part, ParticipantCallStatus=call_status,
                    ReasonParticipantLeft=reason)
        member.on_leave(reason)
        if self.conf.status == "completed":
            return
        if part.beep in ("true", "onExit"):
            self._beep(call_sid, entering=False)
        how = "kicked" if kicked else "left"
        if part.end_conference_on_exit:
            self.end(now, f"participant-with-end-conference-on-exit-{how}", call_sid, part.label)
        elif not self.members:
            self.end(now, f"last-participant-{how}", call_sid, part.label)

    def end(self, now: datetime, reason: str, call_sid: str | None = None,
            label: str | None = None) -> None:
        """Complete the conference and drop everyone still in it."""
        if self.conf.status == "completed":
            return
        was_started = self.started
        self.conf.status = "completed"
        self.conf.date_updated = rfc2822(now)
        self.conf.reason_conference_ended = reason
        self.conf.call_sid_ending_conference = call_sid
        why = "conference_ended_via_api" if reason.endswith("via-api") else \
            "moderator_ended_conference"
        for sid in list(self.members):
            self.leave(sid, now, why)
        self.conf.participants.clear()  # still-ringing ones are refused when they answer
        if was_started:
            self._event("conference-end", now, ReasonConferenceEnded=reason,
                        CallSidEndingConference=call_sid,
                        ParticipantLabelEndingConference=label,
                        Reason=reason.replace("-", " "))

    def update(self, part: Participant, changes: dict, now: datetime) -> None:
        """Apply participant changes and send mute/hold/modify events."""
        before = {k: getattr(part, k) for k in changes}
        for key, value in changes.items():
            setattr(part, key, value)
        part.date_updated = rfc2822(now)
        if "muted" in changes and before["muted"] != part.muted:
            self._event("participant-mute" if part.muted else "participant-unmute", now, part)
        if "hold" in changes and before["hold"] != part.hold:
            self._event("participant-hold" if part.hold else "participant-unhold", now, part)
        # participant-modify fires for BeepOnExit, EndConferenceOnExit, Coaching and WaitUrl
        # changes only (https://www.twilio.com/docs/voice/api/conference-resource#statuscallbackevent),
        # so a new CallSidToCoach alone sends none.
        modified = [k for k in ("coaching", "end_conference_on_exit", "beep", "wait_url")
                    if k in changes and before[k] != getattr(part, k)]
        if modified:
            self._event("participant-modify", now, part)

    def say(self, call_sid: str, frame: bytes) -> None:
        """What a member says this tick."""
        member = self.members.get(call_sid)
        if member is not None:
            member.said = frame

    def heard(self, call_sid: str) -> bytes:
        """What a member heard at the last tick."""
        member = self.members.get(call_sid)
        return member.heard if member is not None else SILENCE

    def tick(self, now: datetime) -> None:
        """Mix one 20 ms frame for every member (before the start, everyone hears silence)."""
        if self.started:
            legs = {sid: self._mix_leg(sid, m.part) for sid, m in self.members.items()}
            out = mix({sid: m.said for sid, m in self.members.items()}, legs)
        else:
            out = {}
        for sid, member in list(self.members.items()):
            member.heard = self._sounds(member, out.get(sid, SILENCE))
            self._detect_speech(member, now)
            member.said = SILENCE

    def _beep(self, who: str, entering: bool) -> None:
        """Everyone else in the conference hears a beep (Beep: true/onEnter/onExit,
        https://www.twilio.com/docs/voice/twiml/conference#beep). Whether the joiner hears its
        own join beep is not documented (UNVERIFIED: it does not)."""
        if not self.strictness.strict("beeps"):
            return
        for sid, member in self.members.items():
            if sid != who:
                member.beeps.extend(tones.beep_frames(entering))

    def _sounds(self, member: Member, heard: bytes) -> bytes:
        """Twilio's own audio on top of the mix: hold music while waiting for the start
        (WaitUrl, default music, "" for silence: https://www.twilio.com/docs/voice/twiml/
        conference#waiturl) or while on hold (HoldUrl), then any pending beep."""
        part = member.part
        url = part.hold_url if part.hold else part.wait_url
        waiting = part.hold or not self.started
        if waiting and url != "" and self.strictness.strict("hold-music"):
            music = tones.hold_music_frames()
            heard = music[member.music_index % len(music)]
            member.music_index += 1
        if member.beeps:
            heard = tones.overlay(heard, member.beeps.popleft())
        return heard

    def _mix_leg(self, sid: str, part: Participant) -> MixLeg:
        coach = part.call_sid_to_coach if part.coaching else None
        waiting = not part.start_conference_on_enter and not self.started
        return MixLeg(sid, muted=part.muted or waiting, hold=part.hold, coach_target=coach)

    def _detect_speech(self, member: Member, now: datetime) -> None:
        loud = member.said != SILENCE and ulaw_dbfs(member.said) > SPEECH_DBFS
        if loud:
            member.quiet_ticks = 0
            if not member.speaking:
                member.speaking = True
                self._event("participant-speech-start", now, member.part)
        elif member.speaking:
            member.quiet_ticks += 1
            if member.quiet_ticks >= SPEECH_HANGOVER_TICKS:
                member.speaking = False
                self._event("participant-speech-stop", now, member.part)


def configure(conf: Conference, settings: dict) -> None:
    """Conference callback settings come from the first participant; later ones are ignored."""
    if conf.configured:
        return
    conf.configured = True
    conf.status_callback = settings.get("status_callback")
    conf.status_callback_method = settings.get("status_callback_method") or "POST"
    conf.status_callback_events = list(settings.get("status_callback_events") or [])
