"""Rows the database tests start from."""
from __future__ import annotations

import sqlalchemy.orm as so

from models import Conference, Tenant


def add_conference(session: so.Session, name: str, recording: bool = False,
                   **fields) -> tuple[Tenant, Conference]:
    """Tenant `acme` (recording opted in or not) and its conference `name` with `fields`,
    flushed: both have ids."""
    tenant = Tenant(name="acme", recording_enabled=recording)
    session.add(tenant)
    session.flush()
    conf = Conference(tenant_id=tenant.id, name=name, **fields)
    session.add(conf)
    session.flush()
    return tenant, conf
