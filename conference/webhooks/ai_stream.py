"""The AI leg's TwiML: its first <Connect><Stream>, and what its <Connect action> URL answers.

https://www.twilio.com/docs/voice/twiml/connect#action: when <Connect> ends (our socket closed
or was lost) Twilio requests the action URL; a new <Connect><Stream> there opens a new stream
(new streamSid, same callSid), which the media plane treats as a reconnect and replays into.
A Calls update would instead take the AI out of its conference, so it is never used for this.
"""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import sqlalchemy as sa
import sqlalchemy.orm as so

from conference.ai import profiles
from conference.service.callbacks import CA_RE, BadWebhook, store_event
from conference.twilio import urls
from conference.twilio.stream_params import ai_parameters, ai_stream_name
from models import Conference, ConferenceEvent, Participant, Stream
from models.times import utcnow

# A socket that keeps failing at once would loop through the action URL forever: after this
# many streams on one call the AI leg hangs up (and is marked as leaving on purpose).
MAX_AI_STREAMS = 20


def connect_action_url(n: int) -> str:
    """The action URL of the `n`th AI stream (Twilio signs it, query included)."""
    return urls.http_url("/twilio/ai/connect-action") + "?" + urlencode({"n": n})


def stream_context(conf: Conference, ai: Participant | None, values: Mapping, n: int,
                   call_sid: str, continues: str | None = None) -> dict:
    """Template context of ai_stream.xml for the `n`th stream on the AI leg's call `call_sid`."""
    agent = (ai.agent if ai else None) or values.get("agent") or profiles.DEFAULT_NAME
    mode = (ai.mode if ai else None) or values.get("mode") or "speak"
    coach = ai.coach_label if ai else (values.get("coach") or None)
    return {
        "stream_name": ai_stream_name(n), "ai_stream_url": urls.ai_stream_url(),
        "stream_events_url": urls.stream_events_url(), "action_url": connect_action_url(n),
        "parameters": ai_parameters(conf, agent, mode, coach, call_sid, ai)
        | {"stream": ai_stream_name(n)} | ({"continues": continues} if continues else {}),
    }


def verified_continues(session: so.Session, conf: Conference, values: Mapping,
                       call_sid: str) -> str | None:
    """The old AI call a re-dialed AI carries on, if it was an AI call of this very conference.

    `continues` arrives in Twilio's signed Voice request (the `app:` address's query), next to
    the token that names the conference and tenant. Only a CallSid Forkline itself streamed as
    this conference's AI (or saw leave it) is passed on, so a forged value can name no other
    tenant's or conference's conversation; the media plane checks the conference again.
    """
    prior = values.get("continues") or ""
    if not CA_RE.match(prior) or prior == call_sid:
        return None
    streamed = session.scalar(sa.select(Stream.id).where(
        Stream.call_sid == prior, Stream.kind == "ai", Stream.conference_id == conf.id).limit(1))
    left = streamed or session.scalar(sa.select(ConferenceEvent.id).where(
        ConferenceEvent.call_sid == prior, ConferenceEvent.conference_id == conf.id,
        ConferenceEvent.event == "participant-leave").limit(1))
    return prior if left else None


def stream_number(args: Mapping) -> int:
    """The `n` of the stream whose <Connect> ended (from the signed action URL)."""
    raw = args.get("n") or ""
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_AI_STREAMS:
        raise BadWebhook("invalid parameter n")
    return int(raw)


def after_connect(session: so.Session, call_sid: str, n: int, form: Mapping) -> dict | None:
    """Context of the next stream while the AI should still be in the conference, else None.

    Idempotent: a repeated or late request for the same (CallSid, n) gets the same answer (the
    same next stream name, which Twilio would refuse to open twice) and is recorded once.
    """
    sids = [call_sid]
    parent = form.get("ParentCallSid")
    if parent and CA_RE.match(parent):
        sids.append(parent)  # the app: leg may be the child of the participant's call
    p = session.scalar(sa.select(Participant).where(Participant.call_sid.in_(sids),
                                                    Participant.role == "ai"))
    if p is None:
        return None
    conf = session.scalar(sa.select(Conference).where(Conference.id == p.conference_id)
                          .with_for_update().execution_options(populate_existing=True))
    session.refresh(p)
    if not (conf.is_active and p.is_present):
        return None  # removed by an operator or a tool, or the conference ended
    first = store_event(session, "call", "ai-connect-action", form,
                        f"ai-connect-action:{call_sid}:{n}", None, call_sid)
    if first is not None:
        first.conference_id = conf.id
        first.payload = {"stream": ai_stream_name(n), "next": ai_stream_name(n + 1)}
    if n >= MAX_AI_STREAMS:
        # We hang it up on purpose: its leave is not an incident (no re-dial).
        p.status, p.left_at = "left", p.left_at or utcnow()
        return None
    return stream_context(conf, p, {}, n + 1, call_sid)
