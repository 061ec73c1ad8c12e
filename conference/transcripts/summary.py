"""Conference summaries: an LLM summary with an OpenAI key, else an extractive one (offline).

With several workers or hosts, the forks of one conference may be transcribed in different
places; each place calls `summarize_conference` when its own forks are done. One summary is
written, by the last of them: under a lock on the conference row, each marks its forks'
transcripts done (a `transcript-done` media event per stream) and summarises only when no
fork elsewhere is still live or within TRANSCRIPT_GRACE_S of its end without being marked.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from agents.pipeline.factory import summarize_text
from agents.pipeline.rules import content
from conference.logs import get_logger
from conference.transcripts.store import conference_entries
from models import Conference, ConferenceEvent, ConferenceSummary, Stream, get_session, transaction
from models.conference import conference_id
from models.times import utcnow

log = get_logger("summary")
EXTRACT_LINES = 3
TRANSCRIPT_GRACE_S = 60.0  # a fork ended elsewhere this recently may still be transcribing
DONE = "transcript-done"
LLM_PROMPT = "Summarize this phone conference in two or three sentences for the account notes."


def extractive(lines: list[tuple[str, str]], limit: int = EXTRACT_LINES) -> str:
    """The most informative (speaker, text) lines, each speaker's best first, in call order."""
    counts = Counter(word for _, text in lines for word in content(text))

    def score(index: int) -> float:
        words = content(lines[index][1])
        # Words repeated across the call carry its topic; a long line is not better per se.
        return sum(counts[w] for w in words) / (1 + len(words)) ** 0.5

    ranked = sorted(range(len(lines)), key=score, reverse=True)
    chosen: list[int] = []
    for index in ranked:  # one line per speaker first, so answers are not crowded out
        if lines[index][0] not in {lines[i][0] for i in chosen} and len(chosen) < limit:
            chosen.append(index)
    chosen += [i for i in ranked if i not in chosen][: limit - len(chosen)]
    return " ".join(f"{lines[i][0]}: {lines[i][1].rstrip('.')}." for i in sorted(chosen))


def llm(lines: list[tuple[str, str]], settings: Mapping) -> str:
    """A summary from the configured language model (raises on any API failure)."""
    transcript = "\n".join(f"{speaker}: {text}" for speaker, text in lines)
    return summarize_text(LLM_PROMPT, transcript, settings)


def transcript_lines(conference_id: int) -> list[tuple[str, str]]:
    """(speaker, text) of a conference in transcript order, the AI's lines as heard."""
    return [(e["speaker"], e["text"]) for e in conference_entries(get_session(), conference_id)]


def claim_summary(session: so.Session, conf_id: int, local_streams: Collection[str]) -> bool:
    """Mark these forks' transcripts done; True when no other fork may still add lines."""
    session.execute(sa.select(Conference.id).where(Conference.id == conf_id).with_for_update())
    done_keys = set(session.scalars(sa.select(ConferenceEvent.dedup_key).where(
        ConferenceEvent.conference_id == conf_id, ConferenceEvent.event == DONE)))
    for sid in local_streams:
        key = f"media:{DONE}:{sid}"
        if key not in done_keys:
            session.add(ConferenceEvent(conference_id=conf_id, source="media", event=DONE,
                                        payload={"stream_sid": sid}, dedup_key=key[:128]))
    recent = utcnow() - timedelta(seconds=TRANSCRIPT_GRACE_S)
    elsewhere = session.scalars(sa.select(Stream.stream_sid).where(
        Stream.conference_id == conf_id, Stream.kind == "fork",
        sa.or_(Stream.status == "started", Stream.stopped_at > recent)))
    return all(sid in local_streams or f"media:{DONE}:{sid}" in done_keys for sid in elsewhere)


def summarize_conference(tenant: str | int | None, name: str | None, settings: Mapping,
                         local_streams: Collection[str] | None = None):
    """Compute and upsert the summary of conference `name`; None when there is nothing to say.

    `local_streams`: the caller's forks of the conference, all transcribed; the summary is
    then left to whoever transcribes the conference's other forks, if any are still going.
    """
    conf_id = conference_id(get_session(), tenant, name)
    if conf_id is not None and local_streams is not None:
        with transaction() as session:
            if not claim_summary(session, conf_id, local_streams):
                log.info("summary left to the worker with the conference's last fork",
                         extra={"event": "summary"})
                return None
    lines = transcript_lines(conf_id) if conf_id is not None else []
    get_session().rollback()  # no transaction stays open across the (slow) LLM call
    if not lines:
        return None
    text, method = "", "extractive"
    if settings.get("OPENAI_API_KEY"):
        try:
            text, method = llm(lines, settings), "llm"
        except Exception as exc:  # the extractive summary is always available
            log.warning("LLM summary failed: %s", type(exc).__name__, extra={"event": "summary"})
    if not text:
        text, method = extractive(lines), "extractive"
    with transaction() as session:
        row = session.scalar(sa.select(ConferenceSummary).where(
            ConferenceSummary.conference_id == conf_id))
        if row is None:
            row = ConferenceSummary(conference_id=conf_id)
            session.add(row)
        row.text, row.method = text, method
    return row
