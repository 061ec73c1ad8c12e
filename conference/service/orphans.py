"""Callbacks that beat our commit: Twilio may report a leg before the transaction that dialed it
has committed. Those callbacks are stored without a home; once the rows exist they are applied."""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
import sqlalchemy.orm as so

from conference.logs import get_logger
from conference.service.callbacks import apply_call_event, apply_conference_event
from models import Conference, ConferenceEvent, Participant, transaction

log = get_logger("orphans")
SCAN_LIMIT = 500


def _orphans(session: so.Session, conf: Conference, call_sids: list[str]):
    by_call = sa.and_(ConferenceEvent.call_sid.in_(call_sids),
                      ConferenceEvent.source.in_(("conference", "call")))
    homeless = sa.and_(ConferenceEvent.conference_id.is_(None),
                       ConferenceEvent.source == "conference",
                       ConferenceEvent.call_sid.is_(None))
    rows = session.scalars(sa.select(ConferenceEvent).where(sa.or_(by_call, homeless))
                           .order_by(ConferenceEvent.id).limit(SCAN_LIMIT))
    for row in rows:
        if row.call_sid is None and row.payload.get("FriendlyName") != conf.twilio_name:
            continue  # another conference's homeless event
        yield row


def adopt(conference_id: int, call_sids: Iterable[str]) -> int:
    """Re-apply stored callbacks of `call_sids` (and homeless ones of the conference)."""
    call_sids = [s for s in call_sids if s]
    applied = 0
    with transaction() as session:
        conf = session.get(Conference, conference_id, with_for_update=True)
        for row in _orphans(session, conf, call_sids):
            row.conference_id = conf.id
            if row.source == "conference":
                if conf.twilio_sid is None:
                    conf.twilio_sid = row.payload.get("ConferenceSid")
                outcome = apply_conference_event(session, conf, row.payload)
            else:
                p = session.scalar(sa.select(Participant).where(
                    Participant.call_sid == row.call_sid))
                outcome = apply_call_event(p, row.event)
            applied += outcome == "applied"
    if applied:
        log.info("adopted %d early callbacks", applied, extra={"conference": conf.name})
    return applied
