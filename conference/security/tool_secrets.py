"""Per-tenant tool-webhook signing secrets: random per tenant, never stored, rotatable.

A tenant's secret is HMAC-SHA256(TOOL_SIGNING_KEY, tenant id + a random 128-bit nonce), shown
once when issued or rotated. The database keeps only the nonce (current and previous), so a
database leak reveals no secret, and there is no ciphertext or decrypt path to keep. It cannot be
a hash: Forkline must compute HMACs with it. After a rotation the previous secret still signs,
in a second header, for TOOL_SECRET_OVERLAP_S, so the receiver can switch without a gap.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

SECRET_PREFIX = "ftw_"  # Forkline tool webhook: recognisable when pasted somewhere it should not be


def new_nonce() -> str:
    """A fresh random nonce (stored) from which a new secret (never stored) is derived."""
    return secrets.token_hex(16)


def tool_secret(signing_key: str, tenant_id: int, nonce: str) -> str:
    """The secret string a tenant's receiver uses as its HMAC key."""
    digest = hmac.new(signing_key.encode(), f"forkline-tool-secret\0{tenant_id}\0{nonce}".encode(),
                      hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signing_secrets(signing_key: str, tenant, overlap_s: float, now: datetime) -> list[str]:
    """The secrets signing the tenant's webhook calls now: current, then previous in overlap."""
    if not tenant.tool_secret_nonce:
        return []
    keys = [tool_secret(signing_key, tenant.id, tenant.tool_secret_nonce)]
    until = previous_valid_until(tenant, overlap_s)
    if tenant.tool_secret_previous_nonce and until is not None and now < until:
        keys.append(tool_secret(signing_key, tenant.id, tenant.tool_secret_previous_nonce))
    return keys


def previous_valid_until(tenant, overlap_s: float) -> datetime | None:
    """When the previous secret stops signing (None when there is no previous one)."""
    if not tenant.tool_secret_previous_nonce or tenant.tool_secret_rotated_at is None:
        return None
    return aware(tenant.tool_secret_rotated_at) + timedelta(seconds=overlap_s)


def aware(moment: datetime) -> datetime:
    """`moment` in UTC with its zone (SQLite hands back naive UTC datetimes)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def signature(secret: str, body: bytes) -> str:
    """HMAC-SHA256 hex of the request body under one secret (what the receiver recomputes)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
