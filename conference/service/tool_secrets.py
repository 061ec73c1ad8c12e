"""Issue and rotate a tenant's tool-webhook signing secret (shown once, never stored)."""
from __future__ import annotations

import sqlalchemy as sa

from conference.security import tool_secrets
from conference.service.errors import Conflict
from models import Tenant, get_session, transaction


class NoSigningKey(Conflict):
    """TOOL_SIGNING_KEY is not configured, so no tool secret can be derived."""


def rotate(tenant_id: int, cfg) -> dict:
    """A new secret for the tenant (the previous keeps signing for the overlap); shown once."""
    signing_key = cfg.get("TOOL_SIGNING_KEY")
    if not signing_key:
        raise NoSigningKey("TOOL_SIGNING_KEY is not configured on this server",
                           code="no_tool_signing_key")
    nonce = tool_secrets.new_nonce()
    with transaction() as session:
        # Row lock: two concurrent rotations must not both make "previous" the same nonce.
        tenant = session.scalar(sa.select(Tenant).where(Tenant.id == tenant_id).with_for_update())
        tenant.rotate_tool_nonce(nonce)
    return {**status(tenant, cfg),
            "secret": tool_secrets.tool_secret(signing_key, tenant_id, nonce)}


def status(tenant: Tenant, cfg) -> dict:
    """Whether a secret is issued and when the previous one stops signing (no secret in it)."""
    until = tool_secrets.previous_valid_until(tenant, float(cfg["TOOL_SECRET_OVERLAP_S"]))
    rotated = tenant.tool_secret_rotated_at
    return {"issued": tenant.tool_secret_nonce is not None,
            "rotated_at": tool_secrets.aware(rotated).isoformat() if rotated else None,
            "previous_valid_until": until.isoformat() if until else None}


def signing_secrets(tenant_id: int, cfg, now) -> list[str]:
    """The secrets the tenant's webhook calls are signed with now (current first)."""
    signing_key = cfg.get("TOOL_SIGNING_KEY")
    tenant = get_session().get(Tenant, tenant_id)
    if not signing_key or tenant is None:
        return []
    return tool_secrets.signing_secrets(signing_key, tenant,
                                        float(cfg["TOOL_SECRET_OVERLAP_S"]), now)
