"""Seed the bench database: a tenant and conferences bench-0..N-1, each with an AI participant.

Run with the server's environment: python -m bench._seed [N]; prints the tenant id last.
"""
from __future__ import annotations

import sys

from app import create_app
from models import Conference, Participant, Tenant, transaction


def seed(count: int) -> int:
    """Create the rows; return the tenant id."""
    with transaction() as session:
        tenant = Tenant(name="bench", max_ai_sessions=100_000)
        session.add(tenant)
        session.flush()
        for i in range(count):
            conference = Conference(tenant_id=tenant.id, name=f"bench-{i}", status="in-progress")
            conference.participants.append(Participant(
                label="ai", role="ai", mode="speak", agent="default",
                status="in-progress",
            ))
            session.add(conference)
        return tenant.id


if __name__ == "__main__":
    with create_app().app_context():
        print(seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
