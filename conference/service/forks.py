"""Forking human legs through the Streams resource (exactly once) and recording streams."""
from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
import sqlalchemy.orm as so

from conference.logs import get_logger
from conference.twilio import urls
from conference.twilio.gateway import GatewayError, get_gateway
from conference.twilio.stream_params import fork_parameters, fork_stream_name
from models import Conference, Participant, Stream
from models.times import utcnow

log = get_logger("fork")
TERMINAL = ("stopped", "failed", "dropped")
# A leg whose forks keep failing (say, the fork socket refuses them) stops being re-forked here,
# instead of costing a Streams request per failure for the rest of the call.
MAX_FORKS_PER_LEG = 5


def claim_fork(session: so.Session, p: Participant) -> bool:
    """Atomically flip fork_started false -> true; only one caller ever wins."""
    result = session.execute(
        sa.update(Participant)
        .where(Participant.id == p.id, Participant.fork_started.is_(False))
        .values(fork_started=True)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


def start_fork(session: so.Session, conf: Conference, p: Participant) -> bool:
    """Start the fork of `p`'s leg unless it is the AI, a supervisor, or already forked."""
    if not (p.forkable and p.call_sid and p.is_present and conf.is_active):
        return False
    if not claim_fork(session, p):
        return False
    ctx = {"conference": conf.name, "call_sid": p.call_sid, "label": p.label}
    name = fork_stream_name(p, _forks_on_call(session, p.call_sid) + 1)
    try:
        info = get_gateway().start_stream(
            p.call_sid, url=urls.fork_url(), name=name, track="inbound_track",
            parameters=fork_parameters(conf, p) | {"stream": name},
            status_callback=urls.stream_events_url(),
        )
    except GatewayError as exc:
        # Release the claim so a later join (or operator retry) can fork the leg.
        p.fork_started = False
        log.warning("fork failed: %s %s", exc.code, exc.message, extra=ctx)
        return False
    upsert_stream(session, stream_sid=info.sid, call_sid=p.call_sid, status="started",
                  name=info.name or name, participant=p, kind="fork")
    log.info("fork started", extra={**ctx, "stream_sid": info.sid})
    return True


def _forks_on_call(session: so.Session, call_sid: str) -> int:
    return session.scalar(sa.select(sa.func.count(Stream.id)).where(
        Stream.call_sid == call_sid, Stream.kind == "fork")) or 0


def refork(session: so.Session, stream: Stream, p: Participant | None) -> bool:
    """After `p`'s current fork `stream` stopped or failed, start a new one (once per failure).

    Only the leg's latest fork is replaced: a repeated or second terminal callback for the same
    stream finds the replacement already newer and does nothing. Callers hold the conference lock.
    """
    if p is None or stream.kind != "fork" or stream.status not in TERMINAL:
        return False
    conf = p.conference
    if not (p.forkable and p.call_sid and p.status == "joined" and conf.is_active):
        return False
    forks = session.scalars(sa.select(Stream.stream_sid).where(
        Stream.call_sid == p.call_sid, Stream.kind == "fork").order_by(Stream.id)).all()
    if not forks or forks[-1] != stream.stream_sid:
        return False
    ctx = {"conference": conf.name, "call_sid": p.call_sid, "stream_sid": stream.stream_sid}
    if len(forks) >= MAX_FORKS_PER_LEG:
        log.warning("fork failed again; not re-forking this leg any more", extra=ctx)
        return False
    log.info("fork ended while the leg is in the conference; re-forking", extra=ctx)
    p.fork_started = False  # under the conference lock: the claim below cannot be raced
    session.flush()
    return start_fork(session, conf, p)


def upsert_stream(
    session: so.Session,
    *,
    stream_sid: str,
    call_sid: str,
    status: str,
    name: str | None = None,
    participant: Participant | None = None,
    kind: str | None = None,
    track: str | None = None,
) -> Stream:
    """Create or advance the Stream row; a stopped/failed/dropped stream never restarts."""
    stream = session.scalar(sa.select(Stream).where(Stream.stream_sid == stream_sid))
    if stream is None:
        stream = Stream(
            stream_sid=stream_sid, call_sid=call_sid, status=status, name=name,
            kind=kind or ("ai" if participant is not None and participant.role == "ai" else "fork"),
            track=track or "inbound_track",
            participant_id=participant.id if participant else None,
            conference_id=participant.conference_id if participant else None,
        )
        try:
            with session.begin_nested():
                session.add(stream)
        except sa_exc.IntegrityError:  # inserted concurrently (media plane or a callback)
            stream = session.scalar(sa.select(Stream).where(Stream.stream_sid == stream_sid))
    if stream.status not in TERMINAL and status != stream.status:
        stream.status = status
    if stream.status in TERMINAL and stream.stopped_at is None:
        stream.stopped_at = utcnow()
    stream.name = name or stream.name  # Twilio's StreamName is the authority
    return stream
