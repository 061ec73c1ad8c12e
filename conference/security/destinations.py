"""Destination policy: which addresses a tenant's API key may make Forkline dial (toll fraud).

Numbers must start with an allowed country code (DIAL_ALLOWED_COUNTRY_CODES, all when unset) and
not with a blocked premium prefix (DIAL_BLOCKED_PREFIXES, default NANP premium +1900 / +1976);
SIP addresses must be on an allow-listed domain (SIP_ALLOWED_DOMAINS, none by default).
"""
from __future__ import annotations

DEFAULT_BLOCKED = ("+1900", "+1976")


def _items(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def destination_problem(to: str, config) -> str | None:
    """Why `to` (already well-formed) may not be dialed, or None."""
    if to.startswith("+"):
        blocked = _items(config.get("DIAL_BLOCKED_PREFIXES")) or list(DEFAULT_BLOCKED)
        if any(to.startswith(prefix) for prefix in blocked):
            return "premium-rate destinations are not allowed"
        allowed = _items(config.get("DIAL_ALLOWED_COUNTRY_CODES"))
        if allowed and not any(to.startswith("+" + code.lstrip("+")) for code in allowed):
            return "country code not allowed (DIAL_ALLOWED_COUNTRY_CODES)"
        return None
    if to.startswith("sip:"):
        domain = to[4:].rpartition("@")[2].split(";")[0].split(":")[0].lower()
        if domain not in {d.lower() for d in _items(config.get("SIP_ALLOWED_DOMAINS"))}:
            return f"SIP domain {domain!r} is not allow-listed (SIP_ALLOWED_DOMAINS)"
    return None
