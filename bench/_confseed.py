"""Seed the conference bench's database: two tenants (one records) and conferences conf-0..N-1.

Each conference has its customer, agent and AI participants. Conference i belongs to the
recording tenant when i % 4 == 0 (recording is a tenant opt-in). Run with the server's
environment: python -m bench._confseed N; prints {"rec": id, "norec": id} last.
"""
from __future__ import annotations

import json
import sys

from app import create_app
from models import Conference, Participant, Tenant, transaction

RECORDING_EVERY = 4


def tenant_of(index: int, tenants: dict) -> int:
    """The tenant id conference `index` was seeded under."""
    return tenants["rec"] if index % RECORDING_EVERY == 0 else tenants["norec"]


def seed(count: int) -> dict:
    """Create the rows; return the tenant ids."""
    with transaction() as session:
        rec = Tenant(name="bench-rec", recording_enabled=True, max_ai_sessions=100_000)
        norec = Tenant(name="bench-norec", max_ai_sessions=100_000)
        session.add_all([rec, norec])
        session.flush()
        tenants = {"rec": rec.id, "norec": norec.id}
        for i in range(count):
            conference = Conference(tenant_id=tenant_of(i, tenants), name=f"conf-{i}",
                                    status="in-progress")
            for label, role in (("customer", "customer"), ("agent", "agent"), ("ai", "ai")):
                conference.participants.append(Participant(
                    label=label, role=role, status="in-progress",
                    **({"mode": "speak", "agent": "default"} if role == "ai" else {})))
            session.add(conference)
        return tenants


if __name__ == "__main__":
    with create_app().app_context():
        print(json.dumps(seed(int(sys.argv[1]) if len(sys.argv) > 1 else 500)))
