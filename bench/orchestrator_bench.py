"""Orchestrator throughput: admin-API conference creation and status-callback processing.

    .venv/bin/python -m bench.orchestrator_bench [--conferences 200] [--database-url URL]

Runs the app in-process (WSGI test client, no network for our side) with its gateway (the real
twilio SDK) pointed at the spec-checked fake Twilio from tests/, on a fresh SQLite file or a
fresh PostgreSQL database. Prints latency percentiles and rates; asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from twilio_fake import FakeTwilio  # noqa: E402

from app import create_app  # noqa: E402
from conference.twilio.gateway import TwilioGateway  # noqa: E402
from models import Tenant, migrate, transaction  # noqa: E402

ACCOUNT, TOKEN, PUBLIC = "AC" + "0" * 31 + "1", "bench-token", "https://forkline.bench"


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` in ms."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(name: str, durations: list[float], wall: float) -> None:
    """One line: count, rate, p50/p95/p99/max."""
    print(f"{name:<28} n={len(durations):<5} rate={len(durations) / wall:8.1f}/s "
          f"p50={pct(durations, .5):6.2f}ms p95={pct(durations, .95):6.2f}ms "
          f"p99={pct(durations, .99):6.2f}ms max={max(durations) * 1000:6.2f}ms "
          f"mean={statistics.fmean(durations) * 1000:6.2f}ms")


def timed(fn, items) -> tuple[list[float], float]:
    """Run fn over items; per-call durations and wall time."""
    durations, start = [], time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        durations.append(time.perf_counter() - t0)
    return durations, time.perf_counter() - start


def make_database(url: str | None, tmp: str) -> tuple[str, callable]:
    """A fresh database URL and its cleanup."""
    if not url:
        return f"sqlite:///{tmp}/bench.sqlite", lambda: None
    admin_url = "postgresql+psycopg://" + url.split("://", 1)[1]
    name = f"forkline_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.rpartition("/")[0] + "/" + name, drop


def main(argv: list[str] | None = None) -> None:
    """Create conferences through the API, then replay their callbacks (and duplicates)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conferences", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (else SQLite)")
    args = parser.parse_args(argv)
    fake = FakeTwilio(ACCOUNT, TOKEN).start()
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = make_database(args.database_url, tmp)
        try:
            run(url, fake, args.conferences)
        finally:
            fake.stop()
            drop()
    print(f"spec violations seen by the fake: {len(fake.violations)}")


def run(url: str, fake: FakeTwilio, count: int) -> None:
    """The measured part."""
    migrate.upgrade(url.replace("postgresql://", "postgresql+psycopg://"))
    app = create_app({"DATABASE_URL": url, "PUBLIC_URL": PUBLIC, "TWILIO_ACCOUNT_SID": ACCOUNT,
                      "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_CALLER_ID": "+15550000000",
                      "TWILIO_TWIML_APP_SID": "AP" + "0" * 32, "LOG_LEVEL": "WARNING"})
    app.extensions["twilio_gateway"] = TwilioGateway(ACCOUNT, TOKEN, fake.url)
    with app.app_context(), transaction() as session:
        tenant = Tenant(name="bench", max_ai_sessions=count)
        _, key = tenant.issue_api_key()
        session.add(tenant)
    client, auth = app.test_client(), {"Authorization": f"Bearer {key}"}
    validator = RequestValidator(TOKEN)
    print(f"database: {url.split(':', 1)[0]}, conferences: {count}")

    def create(i):
        r = client.post("/api/conferences", headers=auth, json={"name": f"c{i}", "participants": [
            {"to": "+15551110001", "role": "customer", "label": "customer"},
            {"to": "+15551110002", "role": "agent", "label": "agent"}]})
        assert r.status_code == 201, r.json
        return r.json

    confs = []
    durations, wall = timed(lambda i: confs.append(create(i)), range(count))
    report("POST /api/conferences", durations, wall)

    def callback(params):
        sig = validator.compute_signature(PUBLIC + "/twilio/conference-events", params)
        r = client.post("/twilio/conference-events", data=params,
                        headers={"X-Twilio-Signature": sig})
        assert r.status_code == 204

    joins = [{"ConferenceSid": c["twilio_sid"], "FriendlyName": f"t{tenant.id}-{c['name']}",
              "StatusCallbackEvent": "participant-join", "SequenceNumber": str(seq),
              "CallSid": p["call_sid"], "ParticipantLabel": p["label"]}
             for c in confs for seq, p in enumerate(c["participants"], start=1)]
    report("join callback (forks)", *timed(callback, joins))
    report("duplicate join callback", *timed(callback, joins))
    streams = sum(1 for r in fake.requests if r.operation_id == "CreateStream")
    print(f"CreateStream requests: {streams} for {len(joins)} legs (exactly once each)")
    timings, wall = timed(lambda c: client.get(f"/api/conferences/{c['name']}", headers=auth),
                          confs)
    report("GET /api/conferences/{name}", timings, wall)


if __name__ == "__main__":
    main()
