"""State writes through a PostgreSQL outage: retried, landed after it, nothing lost or doubled.

The outage is real but private: the app reaches the machine's PostgreSQL through a TCP proxy
(tests/support/tcpproxy.py) that the test cuts and restores, in a database of its own; the
rows are read over a direct connection that the cut does not touch.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from agents.base import TurnMetrics
from conference.media import metrics, statesink
from conference.media.statesink import StateSink
from conference.transcripts.agent_records import store_turn_metric
from conference.transcripts.store import store_line
from models import Participant, transaction
from tests.support.pg import fresh_database
from tests.support.seed import add_conference
from tests.support.tcpproxy import TcpProxy
from twilio_sim.testing import wait_for

CALL = "CA" + "1" * 32


@pytest.fixture
def direct_url():
    with fresh_database("forkline_outage") as url:
        yield url


@pytest.fixture
def proxy(direct_url):
    p = TcpProxy.in_front_of(direct_url, 5432)
    yield p
    p.close()


@pytest.fixture
def database_url(direct_url, proxy):
    """Overrides tests/conftest.py's: the app's database, behind the proxy."""
    return proxy.url_for(direct_url)


@pytest.fixture
def direct(direct_url):
    engine = sa.create_engine(direct_url)
    yield engine
    engine.dispose()


def _seed(app) -> dict:
    with app.app_context(), transaction() as session:
        tenant, conf = add_conference(session, "room")
        session.add(Participant(conference_id=conf.id, label="alice", role="customer",
                                call_sid=CALL))
        return {"tenant": str(tenant.id), "conference": "room", "label": "alice",
                "role": "customer", "stream_sid": "MZ" + "1" * 32, "call_sid": CALL,
                "kind": "fork"}


def _count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def _counts(engine) -> dict:
    return {table: _count(engine, f"SELECT count(*) FROM {table}")
            for table in ("stream", "conference_event", "transcript_entry", "turn_metric")}


def _writes(sink: StateSink, info: dict) -> None:
    """One of each write the media plane makes: stream rows, an event, a line, a metric."""
    second = dict(info, stream_sid="MZ" + "2" * 32)
    sink.submit(statesink.stream_started, second)
    sink.submit(statesink.media_event, info, "speech-started", "media:k1", {"speaker": "alice"})
    sink.submit(store_line, info, "hello there", 1_700_000_000.25, 1_700_000_001.5, "fork")
    turn = TurnMetrics(item_id="i1", backend="echo", end_to_end_ms=12.0)
    sink.submit(store_turn_metric, info, turn, 1_700_000_002.0)
    sink.submit(statesink.stream_ended, info["stream_sid"], "stopped")


def test_writes_during_an_outage_land_after_it_exactly_once(app, proxy, direct):
    info = _seed(app)
    sink = StateSink(app)
    sink.submit(statesink.stream_started, info)
    sink.join()
    assert _counts(direct)["stream"] == 1
    retried_before = metrics.value("forkline_state_writes_total", outcome="retried")

    proxy.cut()
    _writes(sink, info)
    wait_for(lambda: sink.retried >= 2, 20, message="the writer retrying against the outage")
    assert sink.pending() == 5 and sink.failed == 0
    assert _counts(direct) == {"stream": 1, "conference_event": 0, "transcript_entry": 0,
                               "turn_metric": 0}

    proxy.restore()
    sink.join()
    assert (sink.failed, sink.dropped, sink.landed) == (0, 0, 6)
    assert _counts(direct) == {"stream": 2, "conference_event": 1, "transcript_entry": 1,
                               "turn_metric": 1}
    assert _count(direct, f"SELECT count(*) FROM stream WHERE stream_sid='{info['stream_sid']}'"
                          " AND status='stopped'") == 1
    assert metrics.value("forkline_state_writes_total", outcome="retried") > retried_before


def test_a_retry_after_an_ambiguous_commit_does_not_double_insert(app, direct):
    info = _seed(app)
    sink = StateSink(app)
    attempts: dict[str, int] = {}

    def committed_then_lost(job):
        """Run the job (it commits), then fail as a dropped connection would, once."""
        def run(*args):
            job(*args)
            attempts[job.__name__] = attempts.get(job.__name__, 0) + 1
            if attempts[job.__name__] == 1:
                raise sa.exc.OperationalError("COMMIT", {}, ConnectionResetError("lost"))
        run.__name__ = job.__name__
        return run

    sink.submit(committed_then_lost(statesink.stream_started), info)
    sink.submit(committed_then_lost(statesink.media_event), info, "barge-in", "media:b1",
                {"heard_ms": 120})
    sink.submit(committed_then_lost(store_line), info, "hi", 1_700_000_000.5, 1_700_000_001.0,
                "fork")
    sink.submit(committed_then_lost(store_turn_metric), info,
                TurnMetrics(item_id="i2", backend="echo"), 1_700_000_003.0)
    sink.join()
    assert set(attempts.values()) == {2} and sink.retried == 4
    assert _counts(direct) == {"stream": 1, "conference_event": 1, "transcript_entry": 1,
                               "turn_metric": 1}


def test_the_queue_is_bounded_during_an_outage(app, proxy, direct):
    info = _seed(app)
    sink = StateSink(app, maxsize=3)
    proxy.cut()
    for i in range(5):
        sink.submit(statesink.media_event, info, "speech-started", f"media:q{i}", {})
    assert sink.dropped >= 1  # the head may already be out of the queue, in its retry loop
    wait_for(lambda: sink.retried >= 1, 20, message="a retry")
    proxy.restore()
    sink.join()
    assert sink.landed + sink.dropped == 5 and sink.failed == 0
    assert _count(direct, "SELECT count(*) FROM conference_event") == sink.landed


def test_a_job_that_fails_for_its_own_reasons_is_not_retried(app):
    sink = StateSink(app)
    sink.submit(statesink.media_event, {}, "x", None, {})  # TypeError inside the job
    sink.join()
    assert (sink.failed, sink.retried, sink.landed) == (1, 0, 0)
