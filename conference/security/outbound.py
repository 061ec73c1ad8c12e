"""Outbound calls to tenant webhooks (the lookup tool): their own key, no redirects, bounded.

A tool webhook is signed with the tenant's own tool secret (tool_secrets.py; never SECRET_KEY,
which mints stream tokens), so whoever runs a tenant's webhook can verify requests but cannot mint
anything, nor sign for another tenant. Only https is allowed (plain http to loopback in
development/testing); redirects are refused (a 302 to an internal address must not come back to
the model); the answer is capped.
"""
from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from conference.security.tool_secrets import signature

MAX_ANSWER = 64 * 1024


class OutboundRefused(Exception):
    """The webhook URL or its answer is not acceptable; the message says why."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise OutboundRefused(f"webhook answered a redirect ({code}); redirects are not followed")


_OPENER = urllib.request.build_opener(_NoRedirects)


def check_url(url: str, allow_http_loopback: bool) -> None:
    """Refuse anything but https (or http to a loopback address in development)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(parts.hostname or ""):
        return
    raise OutboundRefused("webhook URL must be https")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def post_signed_json(url: str, payload: dict, secrets: list[str], timeout_s: float,
                     allow_http_loopback: bool = False):
    """POST `payload` signed and return its JSON answer.

    X-Forkline-Signature is the HMAC-SHA256 hex of the body under the current secret; during a
    rotation's overlap X-Forkline-Signature-Previous carries it under the previous secret.
    """
    check_url(url, allow_http_loopback)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Forkline-Signature": signature(secrets[0],
                                                                                     body)}
    if len(secrets) > 1:
        headers["X-Forkline-Signature-Previous"] = signature(secrets[1], body)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    with _OPENER.open(request, timeout=timeout_s) as r:
        raw = r.read(MAX_ANSWER + 1)
    if len(raw) > MAX_ANSWER:
        raise OutboundRefused(f"webhook answer over {MAX_ANSWER} bytes")
    return json.loads(raw or b"null")
