"""The transcript store: lines of each speaker, and a conference's transcript as heard.

The AI's lines come from its own transcript rows, or from its media events when a backend
wrote none; a barge-in cuts an AI line at what the callers actually heard.
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from agents.pipeline.speaker import truncate_text
from models import ConferenceEvent, TranscriptEntry, transaction
from models.conference import conference_id


def _wall(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def store_line(info: dict, text: str, started: float, ended: float, source: str,
               item_id: str | None = None, interrupted: bool = False) -> None:
    """Insert one TranscriptEntry for the conference of `info` (a state-writer job, idempotent)."""
    tenant, name = info.get("tenant"), info.get("conference")
    if not text.strip():
        return
    with transaction() as session:
        conf_id = conference_id(session, tenant, name)
        if conf_id is None:
            return
        speaker = ("ai" if source == "ai" else (info.get("label") or info.get("call_sid")
                                                 or "?"))[:64]
        at = _wall(started)
        # Idempotency key (conference, speaker, source, start): a retried write is a no-op.
        if session.scalar(sa.select(TranscriptEntry.id).where(
                TranscriptEntry.conference_id == conf_id, TranscriptEntry.speaker == speaker,
                TranscriptEntry.source == source, TranscriptEntry.started_at == at).limit(1)):
            return
        session.add(TranscriptEntry(
            conference_id=conf_id, speaker=speaker, role=info.get("role") or source,
            text=text.strip(), started_at=at, ended_at=_wall(ended), source=source,
            item_id=(item_id or None) and item_id[:64], interrupted=interrupted))


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return _utc(value).isoformat() if value else None


def heard_cuts(barge_ins: list[dict]) -> dict[str, tuple[int, int]]:
    """item_id -> (heard_ms, generated_ms) from the media plane's barge-in payloads.

    What had been generated when the caller cut in is what played plus what was flushed.
    """
    cuts: dict[str, tuple[int, int]] = {}
    for payload in barge_ins:
        item, heard = payload.get("item_id"), payload.get("heard_ms")
        if not item or not isinstance(heard, int):
            continue
        generated = heard + max(int(payload.get("flushed_ms") or 0), 0)
        if item not in cuts or heard < cuts[item][0]:  # the first cut is the one that counts
            cuts[item] = (heard, generated)
    return cuts


def ai_line(text: str, item_id: str | None, cuts: dict[str, tuple[int, int]]) -> dict | None:
    """The AI's words as the caller heard them: cut at a barge-in, None if nothing was heard."""
    if item_id not in cuts:
        return {"text": text}
    heard, generated = cuts[item_id]
    kept = truncate_text(text, heard, generated)
    if not kept.rstrip(".").strip():
        return None
    return {"text": kept, "interrupted": True, "heard_ms": heard}


def _ai_event_rows(session: so.Session, conference_id: int) -> list[tuple]:
    # The media plane records the AI's final lines and its barge-ins as media events.
    events = list(session.scalars(sa.select(ConferenceEvent).where(
        ConferenceEvent.conference_id == conference_id, ConferenceEvent.source == "media",
        ConferenceEvent.event.in_(("transcript", "barge-in"))).order_by(ConferenceEvent.id)))
    cuts = heard_cuts([e.payload or {} for e in events if e.event == "barge-in"])
    rows = []
    for e in events:
        payload = e.payload or {}
        if e.event != "transcript" or payload.get("speaker") != "ai":
            continue
        line = ai_line(str(payload.get("text") or ""), payload.get("item_id"), cuts)
        if line is not None:
            rows.append((e.received_at, 0, e.id, {
                "speaker": "ai", "role": "ai", "source": "ai", **line,
                "started_at": _iso(e.received_at), "ended_at": None}))
    return rows


def conference_entries(session: so.Session, conference_id: int) -> list[dict]:
    """One ordered, speaker-labelled transcript: human forks and the AI (as heard)."""
    rows = [(e.started_at, e.seq, e.id, {
        "speaker": e.speaker, "role": e.role, "text": e.text, "source": e.source,
        "started_at": _iso(e.started_at), "ended_at": _iso(e.ended_at),
        **({"interrupted": True} if e.interrupted else {})})
        for e in session.scalars(
            sa.select(TranscriptEntry).where(TranscriptEntry.conference_id == conference_id))]
    if not any(row[3]["source"] == "ai" for row in rows):
        rows += _ai_event_rows(session, conference_id)
    rows.sort(key=lambda row: (_utc(row[0]), row[1], row[2]))
    return [row[3] for row in rows]
