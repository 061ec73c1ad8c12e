"""One summary per conference when its forks were transcribed on different workers or hosts."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from conference.transcripts.store import store_line
from conference.transcripts.summary import summarize_conference
from models import ConferenceSummary, Stream, get_session, transaction
from models.times import utcnow
from tests.support.seed import add_conference

A, B = "MZ" + "a" * 32, "MZ" + "b" * 32


def _conference(app) -> dict:
    with app.app_context(), transaction() as session:
        tenant, conf = add_conference(session, "room", status="in-progress")
        for sid, label in ((A, "alice"), (B, "bob")):
            session.add(Stream(stream_sid=sid, call_sid="CA" + sid[2:], kind="fork",
                               name=label, conference_id=conf.id, status="started"))
        return {"tenant": str(tenant.id), "conference": "room"}


def _summaries(app) -> list[str]:
    with app.app_context():
        return [row.text for row in get_session().scalars(sa.select(ConferenceSummary))]


def _line(app, info: dict, label: str, text: str, at: float) -> None:
    with app.app_context():
        store_line(dict(info, label=label, role="customer"), text, at, at + 1, "fork")


def test_the_worker_with_the_last_fork_writes_the_one_summary(app):
    info = _conference(app)
    _line(app, info, "alice", "Where is the parcel going?", 1_700_000_000.0)
    with app.app_context():  # worker A: alice is done, bob is still live elsewhere
        assert summarize_conference(info["tenant"], "room", app.config, [A]) is None
    assert _summaries(app) == []
    _line(app, info, "bob", "The parcel is going to Lisbon.", 1_700_000_002.0)
    with app.app_context():  # worker B: bob done, alice marked done by A (its row still says
        summarize_conference(info["tenant"], "room", app.config, [B])  # started)
    assert len(_summaries(app)) == 1
    assert "alice:" in _summaries(app)[0] and "bob:" in _summaries(app)[0]
    with app.app_context():  # a late duplicate call claims again and only rewrites the row
        summarize_conference(info["tenant"], "room", app.config, [A])
    assert len(_summaries(app)) == 1


def test_a_fork_that_ended_long_ago_elsewhere_does_not_hold_the_summary(app):
    info = _conference(app)
    _line(app, info, "alice", "Hello there.", 1_700_000_000.0)
    with app.app_context(), transaction() as session:
        row = session.scalar(sa.select(Stream).where(Stream.stream_sid == B))
        row.status = "stopped"
        row.stopped_at = utcnow()  # recent: it may still be transcribing
    with app.app_context():
        assert summarize_conference(info["tenant"], "room", app.config, [A]) is None
    with app.app_context(), transaction() as session:
        session.execute(sa.update(Stream).where(Stream.stream_sid == B)
                        .values(stopped_at=utcnow() - timedelta(hours=1)))
    with app.app_context():
        assert summarize_conference(info["tenant"], "room", app.config, [A]) is not None
    assert len(_summaries(app)) == 1

