"""Issue 12 item 5: one conference across two Forkline hosts sharing only Redis and PostgreSQL.

Two gunicorns (the Procfile's web line, one worker each, separate ports) stand for two
machines. The customer's fork lands on host A, the AI leg on host B: the fork's VAD on A
decides, B's AI leg sends `clear`. The AI's socket then moves to A (Twilio reconnects after
a socket loss, and the balancer picks the other host): A resumes the call from the rings B
mirrored to Redis. The agent's fork lands on B and barges in on the AI now on A. Both hosts'
admin APIs show one state, and the conference gets one summary with both speakers' lines.
"""
from __future__ import annotations

import os
import uuid

import pytest

from agents import audio, speech
from tests.support.hosts import (
    Cluster,
    Ticker,
    ai_stream,
    fork_stream,
    released_cluster,
    seed_conference,
)
from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300),
              pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SILENCE = b"\xff" * 160
TIMEOUT = 30.0


def tone(i: int) -> bytes:
    return bytes([i % 250, 9]) * 80


TONES = {tone(i) for i in range(250)}


def utterance(text: str) -> list[bytes]:
    """Synthesized speech as 20 ms frames, then a second of silence (ends the turn)."""
    return audio.split_frames(speech.synthesize_ulaw(text)) + [SILENCE] * 50


def speaking(frames: list[bytes], start: int):
    """A tick -> frame source that says `frames` from tick `start` on."""
    return lambda t: frames[t - start] if 0 <= t - start < len(frames) else SILENCE


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with released_cluster(tmp_path_factory.mktemp("hosts"), "forkline_hosts", REDIS_URL,
                          print_logs=True, TRANSCRIPTS_ENABLED="1") as cluster:
        cluster.start("host-a")
        cluster.start("host-b")
        yield cluster


def coherent(cluster: Cluster, key: str, path: str, ready) -> dict:
    """The admin API's answer once both hosts give the same one and `ready(answer)` holds."""
    def same():
        (sa_, a), (sb, b) = (host.get(path, key) for host in cluster.hosts)
        return a if sa_ == sb == 200 and a == b and ready(a) else None
    return wait_for(same, TIMEOUT, 0.1, message=f"both hosts agreeing on {path}")


def test_a_conference_split_across_two_hosts(cluster):
    host_a, host_b = cluster.hosts
    tenant, key = cluster.tenant("hosts-" + uuid.uuid4().hex[:8])
    room = "room-" + uuid.uuid4().hex[:8]
    sids = {label: "CA" + uuid.uuid4().hex for label in ("customer", "agent", "ai")}
    seed_conference(cluster.engine, tenant, room, sids)

    ai = ai_stream(host_b, tenant, room, sids["ai"], stream="ai-1")
    customer = fork_stream(host_a, tenant, room, sids["customer"], "customer", "customer")
    ai.connect()
    customer.connect()
    ticker = Ticker()
    for i in range(100):  # 2 s of tone at once: the echo AI talks for the next 2 s
        ai.send_tick(inbound=tone(i))
    ticker.tick = 100
    words = utterance("Where is my parcel going?")
    ticker.run(20 + len(words), [(ai, lambda t: SILENCE),
                                 (customer, speaking(words, 110))])
    # The customer's VAD on host A interrupted the AI on host B: B sent `clear`.
    assert wait_for(lambda: ai.session.clears >= 1, TIMEOUT, message="clear on host B")
    assert host_b.metric("forkline_media_clears_total") >= 1
    assert host_a.metric("forkline_media_clears_total") == 0  # A has no AI leg to clear
    assert host_a.metric("forkline_bus_signals_total", outcome="sent") >= 1
    assert any(f in TONES for f in ticker.heard(ai))  # the AI was talking before the cut

    # The AI's socket is lost; Twilio's reconnect lands on host A, which resumes the call.
    ai.drop()
    ticker.run(10, [(customer, lambda t: SILENCE)])  # > 100 ms: B's last frames mirrored
    moved = ai_stream(host_a, tenant, room, sids["ai"], stream="ai-2")
    moved.connect()
    agent = fork_stream(host_b, tenant, room, sids["agent"], "agent", "agent")
    agent.connect()
    ticker.run(60, [(moved, lambda t: SILENCE), (customer, lambda t: SILENCE),
                    (agent, lambda t: SILENCE)])
    assert wait_for(lambda: host_a.metric("forkline_media_replayed_frames_total",
                                          direction="inbound") > 0, TIMEOUT)
    assert any(f in TONES for f in ticker.heard(moved))  # B's context, spoken on A
    # Now the other way round: the agent's fork on B barges in on the AI on A.
    for i in range(100):
        moved.send_tick(inbound=tone(i))
    answer = utterance("We are sending it to Lisbon.")
    start = ticker.tick + 10
    ticker.run(10 + len(answer), [(moved, lambda t: SILENCE), (customer, lambda t: SILENCE),
                                  (agent, speaking(answer, start))])
    assert wait_for(lambda: moved.session.clears >= 1, TIMEOUT, message="clear on host A")

    # One state, whichever host the admin API asks.
    detail = coherent(cluster, key, f"/api/conferences/{room}",
                      lambda d: len(d["streams"]) == 4)
    by_kind = sorted((s["kind"], s["name"], s["status"]) for s in detail["streams"])
    assert by_kind == [("ai", "ai-1", "failed"), ("ai", "ai-2", "started"),
                       ("fork", "fork-agent-1", "started"), ("fork", "fork-customer-1", "started")]
    barges = [e["payload"] for e in detail["events"] if e["event"] == "barge-in"]
    assert {p.get("speaker") for p in barges} >= {"customer", "agent"}

    # The conference ends; each host's forks finish transcribing: one summary, both voices.
    for client in (moved, customer, agent):
        client.stop()
    body = coherent(cluster, key, f"/api/conferences/{room}/transcript",
                    lambda d: d["summary"] is not None)
    assert {e["speaker"] for e in body["entries"]} == {"customer", "agent"}
    assert "customer:" in body["summary"]["text"] and "agent:" in body["summary"]["text"]
    with cluster.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT count(*) FROM conference_summary s JOIN conference c ON c.id = s.conference_id"
            " WHERE c.name = %(n)s", {"n": room}).scalar()
        done = conn.exec_driver_sql(
            "SELECT count(*) FROM conference_event e JOIN conference c ON c.id = e.conference_id"
            " WHERE c.name = %(n)s AND e.event = 'transcript-done'", {"n": room}).scalar()
    assert (rows, done) == (1, 2)  # each host marked its own fork; the last one summarised
